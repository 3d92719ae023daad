#include "node/connection.hpp"

#include <asio/post.hpp>
#include <asio/write.hpp>

#include <array>

namespace dinx::node {
namespace {

// Every connection of an io thread reads into this one buffer and decodes in place, so an idle
// connection holds no read buffer; only a frame split across reads is copied aside.
constexpr std::size_t scratch_size = 64 * 1024;
thread_local std::array<std::byte, scratch_size> read_scratch;

// Reads in a row before yielding to the other connections of the thread.
constexpr int reads_per_turn = 16;

// A write buffer larger than this is freed once written, so a burst does not pin memory.
constexpr std::size_t kept_write_capacity = 16 * 1024;

std::string describe(const Socket& socket) {
    std::error_code ec;
    auto endpoint = socket.remote_endpoint(ec);
    if (ec) return "?";
    return endpoint.address().to_string() + ":" + std::to_string(endpoint.port());
}

}  // namespace

Connection::Connection(Socket socket, ConnectionLimits limits)
    : socket_(std::move(socket)), limits_(limits), reader_(limits.max_frame_len) {
    remote_ = describe(socket_);
}

asio::ip::address Connection::remote_address() const {
    std::error_code ec;
    auto endpoint = socket_.remote_endpoint(ec);
    return ec ? asio::ip::address{} : endpoint.address();
}

std::size_t Connection::unread_bytes() const {
    if (!open_) return 0;
    std::error_code ec;
    auto bytes = socket_.available(ec);
    return ec ? 0 : bytes;
}

void Connection::start() {
    std::error_code ignored;
    socket_.set_option(asio::ip::tcp::no_delay(true), ignored);
    socket_.non_blocking(true, ignored);
    on_readable({});
}

// Callbacks rather than a coroutine: an idle connection then costs one pending wait (a handler
// holding a shared_ptr), not a coroutine frame stack. That is most of a gate's memory.
void Connection::wait_readable() {
    socket_.async_wait(Socket::wait_read, [self = shared_from_this()](std::error_code error) {
        self->on_readable(error);
    });
}

void Connection::on_readable(std::error_code error) {
    for (int reads = 0; !error && open_; ++reads) {
        std::size_t got = read_available(error);
        if (!open_ || (error && error != asio::error::would_block)) break;
        // Replies made while decoding go out now, in one write, before we sleep.
        start_write();
        if (got < scratch_size) {
            // A short read means the socket is (almost surely) drained. Waiting is safe even if
            // bytes arrived since: asio re-arms the descriptor (EPOLL_CTL_MOD) for a wait, and
            // the kernel then reports data already there. So no second read to see EAGAIN.
            wait_readable();
            return;
        }
        if (reads + 1 == reads_per_turn) {
            // More is likely waiting, but one busy peer must not starve the thread's others.
            asio::post(socket_.get_executor(),
                       [self = shared_from_this()] { self->on_readable({}); });
            return;
        }
    }
    finish(error);
}

void Connection::finish(std::error_code error) {
    if (open_) {
        close_reason_ = error == asio::error::eof ? "peer closed" : error.message();
        open_ = false;
        std::error_code ignored;
        socket_.close(ignored);
    }
    on_closed();
}

std::size_t Connection::read_available(std::error_code& error) {
    std::size_t n = socket_.read_some(asio::buffer(read_scratch), error);
    if (error) return 0;
    heard_ = true;
    bytes_read_ += n;
    auto status = reader_.feed(Bytes{read_scratch.data(), n}, [this](std::uint32_t id, Bytes data) {
        return on_frame(id, data) && open_;
    });
    if (status == FeedStatus::oversized) {
        close("frame of " + std::to_string(reader_.refused_len()) + " bytes exceeds the limit of " +
              std::to_string(limits_.max_frame_len));
    }
    return n;
}

void Connection::send(std::uint32_t msg_id, Bytes payload) {
    if (!open_) return;
    append_frame(outbox_, msg_id, payload);
    after_enqueue();
}

void Connection::after_enqueue() {
    if (queued_bytes() > limits_.max_send_queue_bytes) {
        close("send queue over " + std::to_string(limits_.max_send_queue_bytes) +
              " bytes: the peer does not read");
        return;
    }
    schedule_flush();
}

void Connection::schedule_flush() {
    // Posting the flush lets every frame queued during this wake-up go out in one write.
    if (write_in_progress_ || flush_posted_) return;
    flush_posted_ = true;
    asio::post(socket_.get_executor(), [self = shared_from_this()] {
        self->flush_posted_ = false;
        self->start_write();
    });
}

void Connection::start_write() {
    if (write_in_progress_ || !open_) return;
    if (outbox_.empty()) {
        if (close_when_flushed_) close(close_reason_);
        return;
    }
    // Usually the kernel takes it all at once; that costs one send and no completion handler.
    std::error_code error;
    std::size_t written = socket_.write_some(asio::buffer(outbox_), error);
    if (error && error != asio::error::would_block) {
        close("write failed: " + error.message());
        return;
    }
    if (written > 0) sent_ = true;
    if (written == outbox_.size()) {
        release_if_large(outbox_);
        if (close_when_flushed_) close(close_reason_);
        return;
    }
    // The peer's window is full: an async write sends the rest when it opens.
    write_in_progress_ = true;
    writing_.swap(outbox_);
    outbox_.clear();
    asio::async_write(socket_, asio::buffer(writing_) + written,
                      [self = shared_from_this()](std::error_code error, std::size_t) {
                          self->on_written(error);
                      });
}

void Connection::release_if_large(ByteBuffer& buffer) {
    if (buffer.capacity() > kept_write_capacity)
        ByteBuffer{}.swap(buffer);
    else
        buffer.clear();
}

void Connection::on_written(std::error_code error) {
    write_in_progress_ = false;
    release_if_large(writing_);
    if (error) {
        close("write failed: " + error.message());
        return;
    }
    sent_ = true;
    start_write();
}

void Connection::close(std::string reason) {
    if (!open_) return;
    open_ = false;
    closed_locally_ = true;
    close_reason_ = std::move(reason);
    std::error_code ignored;
    // Shutdown before close so that the peer sees FIN after any bytes already written.
    socket_.shutdown(Socket::shutdown_both, ignored);
    socket_.close(ignored);
}

void Connection::close_after_flush(std::string reason) {
    if (!open_) return;
    close_reason_ = std::move(reason);
    close_when_flushed_ = true;
    schedule_flush();
}

}  // namespace dinx::node
