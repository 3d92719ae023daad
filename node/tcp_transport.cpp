#include "node/tcp_transport.hpp"

#include "node/tcp_info.hpp"

#include <asio/post.hpp>

#include <algorithm>
#include <array>
#include <limits>
#include <span>

namespace dinx::node {
namespace {

// Every connection of an io thread reads into this one buffer and decodes in place, so an idle
// connection holds no read buffer; only a frame split across reads is copied aside.
constexpr std::size_t scratch_size = 64 * 1024;
thread_local std::array<std::byte, scratch_size> read_scratch;

// Reads in a row before yielding to the other connections of the thread.
constexpr int reads_per_turn = 16;

// Queued pieces gathered into one write (sendmsg takes at most IOV_MAX; asio at most 64).
constexpr std::size_t max_gathered = 32;

// Writes in a row while the kernel takes everything and more is queued.
constexpr int writes_per_turn = 4;

}  // namespace

TcpTransport::TcpTransport(Socket socket, TransportLimits limits,
                           std::shared_ptr<MemoryBudget> budget, std::size_t account,
                           std::unique_ptr<WireLayer> layer, const FrameFormat* format)
    : socket_(std::move(socket)),
      limits_(limits),
      budget_(std::move(budget)),
      account_(budget_ ? &budget_->account(account) : nullptr),
      reader_(limits.max_frame_len, format),
      queue_(limits.kept_write_buffer_bytes, format) {
    peer_ = peer_endpoint(socket_);
    if (layer) {
        layered_ = std::make_unique<Layered>();
        layered_->layer = std::move(layer);
    }
}

TcpTransport::~TcpTransport() {
    charge(-static_cast<std::int64_t>(charged_queue_ + charged_reader_));
    if (budget_) budget_->note_connection_gone();
}

std::size_t TcpTransport::unread_bytes() const {
    return open_ ? readable_bytes(socket_) : 0;
}

void TcpTransport::set_max_frame_len(std::uint32_t max_frame_len) {
    limits_.max_frame_len = max_frame_len;
    reader_.set_max_data_len(max_frame_len);
}

void TcpTransport::start(std::shared_ptr<FrameSink> sink) {
    sink_ = std::move(sink);
    std::error_code ignored;
    socket_.set_option(asio::ip::tcp::no_delay(true), ignored);
    socket_.non_blocking(true, ignored);
    started_ = true;
    // A dialing layer speaks first (a TLS ClientHello); the read below also writes it.
    if (layered_) {
        layered_->layer->open(layered_->wire);
        recharge_queue();
    }
    // The first read runs now and may close: the sink's close may drop the last owner of both.
    auto self = shared_from_this();
    on_readable({});
}

// --- reading -----------------------------------------------------------------------------------

// Callbacks rather than a coroutine: an idle connection then costs one pending wait (a handler
// holding a shared_ptr), not a coroutine frame stack. That is most of a gate's memory.
void TcpTransport::wait_readable() {
    read_state_ = ReadState::waiting;
    socket_.async_wait(Socket::wait_read, [self = shared_from_this()](std::error_code error) {
        self->on_readable(error);
    });
}

void TcpTransport::post_read() {
    read_state_ = ReadState::posted;
    asio::post(socket_.get_executor(), [self = shared_from_this()] { self->on_readable({}); });
}

void TcpTransport::on_readable(std::error_code error) {
    read_state_ = ReadState::reading;
    if (!open_) {
        report_closed();
        return;
    }
    if (error) {
        finish(error);
        return;
    }
    if (reading_paused() || peer_finished_) {
        read_state_ = ReadState::idle;  // resume_reading() starts again
        return;
    }
    if (!read_turn(error)) finish(error);
}

bool TcpTransport::read_turn(std::error_code& error) {
    for (int reads = 0; reads < reads_per_turn; ++reads) {
        std::size_t got = read_available(error);
        if (!open_) return false;
        if (error == asio::error::eof) {
            on_eof();
            if (!open_) error = {};
            return open_ && peer_finished_;
        }
        if (error && error != asio::error::would_block) return false;
        error = {};
        // Replies made while decoding go out now, in one write, before we sleep.
        start_write();
        if (!open_) return false;
        if (reading_paused()) {
            read_state_ = ReadState::idle;
            return true;
        }
        if (got < scratch_size) {
            // A short read means the socket is (almost surely) drained. Waiting is safe even if
            // bytes arrived since: asio re-arms the descriptor (EPOLL_CTL_MOD) for a wait, and
            // the kernel then reports data already there. So no second read to see EAGAIN.
            wait_readable();
            return true;
        }
    }
    // More is likely waiting, but one busy peer must not starve the thread's others.
    post_read();
    return true;
}

void TcpTransport::on_eof() {
    heard_ = true;
    peer_finished_ = true;
    read_state_ = ReadState::idle;
    if (!sink_->on_peer_finished() && open_) finish(asio::error::eof);
}

std::size_t TcpTransport::read_available(std::error_code& error) {
    if (reader_.has_held_bytes()) {
        decode({});  // frames a pause held back come first
        if (!open_ || reading_paused()) return 0;
    }
    std::size_t n = socket_.read_some(asio::buffer(read_scratch), error);
    if (error) return 0;
    heard_ = true;
    bytes_read_ += n;
    if (layered_)
        take_in_layered(Bytes{read_scratch.data(), n});
    else
        decode(Bytes{read_scratch.data(), n});
    return n;
}

void TcpTransport::decode(Bytes chunk) {
    auto status = reader_.feed(chunk, [this](std::uint32_t id, Bytes data) {
        ++frames_read_;
        return sink_->on_frame(id, data) && open_ && !reading_paused();
    });
    if (status == FeedStatus::oversized) {
        close("frame of " + std::to_string(reader_.refused_len()) + " bytes exceeds the limit of " +
                  std::to_string(limits_.max_frame_len),
              "sent a frame over the size limit");
        return;
    }
    if (status == FeedStatus::malformed) {
        close("bytes that are not a frame header", "sent a malformed frame header");
        return;
    }
    auto held = reader_.held_capacity();
    charge(static_cast<std::int64_t>(held) - static_cast<std::int64_t>(charged_reader_));
    charged_reader_ = held;
}

void TcpTransport::reading_may_resume() {
    // A pending wait or read sees the change itself; an idle reader must be started again.
    if (open_ && started_ && !peer_finished_ && read_state_ == ReadState::idle) post_read();
}

void TcpTransport::finish(std::error_code error) {
    if (open_) {
        note_ending(error == asio::error::eof ? "peer closed" : error.message());
        open_ = false;
        close_socket(false);
        release_buffers();
    }
    report_closed();
}

void TcpTransport::report_closed() {
    read_state_ = ReadState::idle;
    if (std::exchange(closed_reported_, true) || !sink_) return;
    // The sink lives until its on_closed() returns, and no longer because of us.
    auto sink = std::move(sink_);
    sink->on_closed();
}

// --- writing -----------------------------------------------------------------------------------

void TcpTransport::send(std::uint32_t msg_id, Bytes payload) {
    if (!open_) return;
    queue_.append(msg_id, payload);
    after_enqueue(queue_.header_size() + payload.size());
}

void TcpTransport::send_shared(const SharedBytes& frame) {
    if (!open_) return;
    if (queue_.header_size() != frame_header_size || layered_) {
        // Shared frames are zinx TLV: another layout is written anew, and a layer copies anyway.
        auto header = read_frame_header(frame->data());
        send(header.msg_id, Bytes{*frame}.subspan(frame_header_size, header.data_len));
        return;
    }
    queue_.append_shared(frame);
    after_enqueue(0);
}

void TcpTransport::send_written(std::uint32_t msg_id, BodyWriter write_body) {
    if (!open_) return;
    after_enqueue(queue_.append_with(msg_id, write_body));
}

void TcpTransport::after_enqueue(std::size_t bytes) {
    queue_.note_appended(bytes);
    recharge_queue();
    auto queued = unsent();
    if (queued > limits_.max_send_queue_bytes) {
        close("send queue over " + std::to_string(limits_.max_send_queue_bytes) +
                  " bytes: the peer does not read",
              "did not read its replies");
        return;
    }
    // Only a peer that lets bytes pile up pays for summing the budget.
    if (limits_.pressure_send_queue_bytes != 0 && queued > limits_.pressure_send_queue_bytes &&
        budget_ && budget_->over()) {
        close("send queue over " + std::to_string(limits_.pressure_send_queue_bytes) +
                  " bytes while the process is over its memory budget",
              "did not read its replies while memory was short");
        return;
    }
    update_send_pause();
    schedule_flush();
}

void TcpTransport::update_send_pause() {
    if (limits_.pause_reading_above == 0) return;
    if (unsent() > limits_.pause_reading_above)
        pause_reading(pause_for_send_queue);
    else if (unsent() <= limits_.pause_reading_above / 2)
        resume_reading(pause_for_send_queue);
}

void TcpTransport::schedule_flush() {
    // Posting the flush lets every frame queued during this wake-up go out in one write.
    if (write_waiting_ || flush_posted_) return;
    flush_posted_ = true;
    asio::post(socket_.get_executor(), [self = shared_from_this()] {
        self->flush_posted_ = false;
        self->start_write();
    });
}

void TcpTransport::start_write() {
    for (int turn = 0; turn < writes_per_turn; ++turn) {
        if (write_waiting_ || !open_) return;
        if (layered_ && close_when_flushed_ && queue_.unsent() == 0 &&
            !std::exchange(layered_->goodbye_said, true))
            layered_->layer->say_goodbye(layered_->wire);
        if (unsent() == 0) {
            if (close_when_flushed_) close(close_reason(), violation());
            return;
        }
        std::size_t written = 0, offered = 0;
        if (!write_once(written, offered)) return;
        if (written < offered) break;  // the peer's window is full
    }
    if (open_ && unsent() > 0) wait_writable();
}

bool TcpTransport::write_once(std::size_t& written, std::size_t& offered) {
    if (layered_) return write_layered(written, offered);
    std::array<Bytes, max_gathered> pieces;
    std::size_t count = queue_.gather(pieces, offered);
    std::array<asio::const_buffer, max_gathered> buffers;
    for (std::size_t i = 0; i < count; ++i)
        buffers[i] = asio::buffer(pieces[i].data(), pieces[i].size());
    // Usually the kernel takes it all at once; that costs one send and no completion.
    std::error_code error;
    written = socket_.write_some(std::span<const asio::const_buffer>(buffers.data(), count), error);
    if (error && error != asio::error::would_block) {
        close("write failed: " + error.message());
        return false;
    }
    if (written == 0) return true;
    sent_ = true;
    bytes_written_ += written;
    queue_.consume(written);
    recharge_queue();
    if (queue_.unsent() == 0) report_flushed();
    update_send_pause();
    return true;
}

void TcpTransport::notify_when_flushed(std::function<void()> flushed) {
    on_flushed_ = std::make_unique<std::function<void()>>(std::move(flushed));
    if (unsent() == 0 || !open_) report_flushed();
}

void TcpTransport::report_flushed() {
    if (on_flushed_) (*std::exchange(on_flushed_, nullptr))();
}

void TcpTransport::wait_writable() {
    write_waiting_ = true;
    socket_.async_wait(Socket::wait_write, [self = shared_from_this()](std::error_code error) {
        self->write_waiting_ = false;
        if (!self->open_) return;
        if (error) {
            self->close("write failed: " + error.message());
            return;
        }
        self->start_write();
    });
}

// What is counted is the memory held (capacities), which is what the process's size follows.
void TcpTransport::recharge_queue() {
    auto held = queue_.held_capacity();
    if (layered_) held += layered_->wire.capacity() + layered_->layer->held_bytes();
    charge(static_cast<std::int64_t>(held) - static_cast<std::int64_t>(charged_queue_));
    charged_queue_ = held;
}

void TcpTransport::release_idle_buffers() {
    if (unsent() != 0 || !open_) return;
    queue_.release_idle();
    if (layered_) ByteBuffer{}.swap(layered_->wire);
    recharge_queue();
}

void TcpTransport::release_buffers() {
    // The reader's buffers may be in use by the frame being delivered: they go with the object.
    queue_.clear();
    if (layered_) ByteBuffer{}.swap(layered_->wire);
    recharge_queue();
    report_flushed();  // nothing more will be sent
}

// --- closing -----------------------------------------------------------------------------------

void TcpTransport::close(std::string reason, std::string_view violation) {
    if (!open_) return;
    open_ = false;
    closed_locally_ = true;
    note_ending(std::move(reason), violation);
    close_socket(true);
    release_buffers();
    // A pending wait or the read loop reports the close; an idle reader has neither.
    if (read_state_ == ReadState::idle)
        asio::post(socket_.get_executor(), [self = shared_from_this()] { self->report_closed(); });
}

void TcpTransport::close_socket(bool shutdown_first) {
    // A layered connection closed by us (idle, stopping) still says goodbye (a WebSocket close,
    // a TLS close_notify) when nothing half-written is ahead of it: one try, never a wait.
    if (shutdown_first && layered_ && !layered_->goodbye_said && handshake_done() &&
        layered_->wire.size() == layered_->written) {
        layered_->goodbye_said = true;
        ByteBuffer goodbye;
        layered_->layer->say_goodbye(goodbye);
        std::error_code ignored;
        socket_.write_some(asio::buffer(goodbye), ignored);
    }
    // A layer's wire bytes do not map onto frame bytes: claim nothing surely unsent.
    acked_at_close_ = layered_ ? std::numeric_limits<std::uint64_t>::max()
                               : tcp_bytes_acked(socket_.native_handle()).value_or(bytes_written_);
    std::error_code ignored;
    // Shutdown before close so that the peer sees FIN after any bytes already written.
    if (shutdown_first) socket_.shutdown(Socket::shutdown_both, ignored);
    socket_.close(ignored);
}

void TcpTransport::close_after_flush(std::string reason) {
    if (!open_) return;
    note_ending(std::move(reason));
    close_when_flushed_ = true;
    schedule_flush();
}

}  // namespace dinx::node
