#include "node/blocking_client.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <system_error>

namespace dinx::node {
namespace {

// What read_into() returns when it read nothing.
constexpr long read_timed_out = 0;
constexpr long read_closed = -1;       // the server closed, or the connection broke
constexpr long read_interrupted = -2;  // a signal, or nothing after all: wait again

std::system_error os_error(const std::string& what) {
    return std::system_error(errno, std::generic_category(), what);
}

// Non-blocking connect so that the timeout is ours, not the kernel's.
int connect_with_timeout(const addrinfo& ai, std::chrono::milliseconds timeout) {
    int fd = ::socket(ai.ai_family, ai.ai_socktype | SOCK_CLOEXEC, ai.ai_protocol);
    if (fd < 0) throw os_error("socket");
    int flags = ::fcntl(fd, F_GETFL);
    ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
    int rc = ::connect(fd, ai.ai_addr, ai.ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
        pollfd p{fd, POLLOUT, 0};
        rc = ::poll(&p, 1, static_cast<int>(timeout.count()));
        int error = 0;
        socklen_t len = sizeof error;
        if (rc == 0) {
            errno = ETIMEDOUT;
            rc = -1;
        } else if (rc > 0) {
            ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len);
            errno = error;
            rc = error == 0 ? 0 : -1;
        }
    }
    if (rc != 0) {
        int saved = errno;
        ::close(fd);
        errno = saved;
        return -1;
    }
    ::fcntl(fd, F_SETFL, flags);
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

}  // namespace

BlockingClient::BlockingClient(const std::string& host, std::uint16_t port,
                               std::chrono::milliseconds timeout, std::uint32_t max_frame_len,
                               std::unique_ptr<WireLayer> layer, const FrameFormat* format)
    : reader_(max_frame_len, format),
      format_(format ? format : &tlv_format()),
      layer_(std::move(layer)) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    if (int rc = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found); rc != 0)
        throw std::system_error(std::make_error_code(std::errc::host_unreachable),
                                "resolve " + host + ": " + ::gai_strerror(rc));
    for (auto* ai = found; ai && fd_ < 0; ai = ai->ai_next)
        fd_ = connect_with_timeout(*ai, timeout);
    int saved = errno;
    ::freeaddrinfo(found);
    errno = saved;
    if (fd_ < 0) throw os_error("connect to " + host + ":" + std::to_string(port));
    if (!layer_) return;
    try {
        handshake(host + ":" + std::to_string(port), timeout);
    } catch (...) {
        ::close(fd_);  // no destructor runs for a constructor that throws
        throw;
    }
}

BlockingClient::~BlockingClient() {
    if (fd_ < 0) return;
    if (layer_ && !layer_ended_ && layer_->handshake_done()) {
        // A polite end (a WebSocket close, a TLS close_notify), so the gate does not log a
        // broken connection; sent only if the socket takes it at once.
        ByteBuffer goodbye;
        layer_->say_goodbye(goodbye);
        if (!goodbye.empty())
            ::send(fd_, goodbye.data(), goodbye.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    }
    ::close(fd_);
}

void BlockingClient::handshake(const std::string& peer, std::chrono::milliseconds timeout) {
    ByteBuffer opening;
    layer_->open(opening);
    send_raw(opening);
    auto deadline = std::chrono::steady_clock::now() + timeout;
    std::string what = std::string{layer_->name()} + " handshake with " + peer;
    std::array<std::byte, 16 * 1024> buffer;
    while (!layer_->handshake_done()) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0)
            throw std::system_error(
                std::make_error_code(std::errc::timed_out),
                what + ": no answer within " + std::to_string(timeout.count()) + " ms");
        long n = read_into(left, buffer);
        if (n == read_closed)
            throw std::system_error(std::make_error_code(std::errc::connection_reset),
                                    "the server closed the connection during the " + what);
        if (n <= 0) continue;
        ByteBuffer up;  // frames the server sent right after its handshake
        auto verdict = take_in_layered(Bytes{buffer.data(), static_cast<std::size_t>(n)}, up);
        feed_frames(up);
        if (!verdict.keep_open)
            throw std::system_error(std::make_error_code(std::errc::connection_refused),
                                    verdict.reason);
    }
}

void BlockingClient::send(std::uint32_t msg_id, Bytes payload) {
    ByteBuffer frame;
    append_frame(frame, *format_, msg_id, payload);
    if (!layer_) {
        send_raw(frame);
        return;
    }
    std::lock_guard lock(layer_mutex_);
    if (layer_ended_)
        throw std::system_error(std::make_error_code(std::errc::not_connected),
                                "send: the " + std::string{layer_->name()} + " connection ended");
    ByteBuffer wire;
    layer_->wrap_out(frame, wire);
    send_raw(wire);
}

void BlockingClient::send_raw(Bytes bytes) {
    while (!bytes.empty()) {
        auto n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            throw os_error("send");
        }
        bytes = bytes.subspan(static_cast<std::size_t>(n));
    }
}

std::optional<Frame> BlockingClient::receive(std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (frames_.empty() && !closed_) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() < 0 || !read_some(left)) break;
    }
    if (frames_.empty()) return std::nullopt;
    Frame frame = std::move(frames_.front());
    frames_.pop_front();
    return frame;
}

long BlockingClient::read_into(std::chrono::milliseconds timeout, std::span<std::byte> buffer) {
    pollfd p{fd_, POLLIN, 0};
    int ready = ::poll(&p, 1, static_cast<int>(timeout.count()));
    if (ready == 0) return read_timed_out;
    if (ready < 0) return errno == EINTR ? read_interrupted : read_timed_out;
    auto n = ::recv(fd_, buffer.data(), buffer.size(), 0);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return read_interrupted;
    return n > 0 ? static_cast<long>(n) : read_closed;
}

bool BlockingClient::read_some(std::chrono::milliseconds timeout) {
    std::array<std::byte, 64 * 1024> buffer;
    long n = read_into(timeout, buffer);
    if (n == read_closed) closed_ = true;
    if (n <= 0) return n == read_interrupted;  // after a signal, receive() waits on
    Bytes chunk{buffer.data(), static_cast<std::size_t>(n)};
    if (!layer_) {
        feed_frames(chunk);
        return !closed_;
    }
    ByteBuffer up;
    auto verdict = take_in_layered(chunk, up);
    feed_frames(up);  // what came before a close still counts
    if (!verdict.keep_open) closed_ = true;
    return !closed_;
}

LayerVerdict BlockingClient::take_in_layered(Bytes chunk, ByteBuffer& up) {
    std::lock_guard lock(layer_mutex_);
    ByteBuffer reply;
    auto verdict = layer_->take_in(chunk, up, reply);
    layer_ended_ = layer_ended_ || !verdict.keep_open;
    if (reply.empty()) return verdict;
    try {
        send_raw(reply);
    } catch (const std::system_error&) {
        // The server is gone: the next read sees it and says so.
    }
    return verdict;
}

void BlockingClient::feed_frames(Bytes stream) {
    auto status = reader_.feed(stream, [this](std::uint32_t id, Bytes payload) {
        frames_.push_back({id, std::string(as_text(payload))});
        return true;
    });
    if (status != FeedStatus::ok) closed_ = true;
}

void BlockingClient::shutdown_write() {
    if (fd_ >= 0) ::shutdown(fd_, SHUT_WR);
}

void BlockingClient::close() {
    if (fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);
}

}  // namespace dinx::node
