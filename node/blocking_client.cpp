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
                               std::chrono::milliseconds timeout, std::uint32_t max_frame_len)
    : reader_(max_frame_len) {
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
}

BlockingClient::~BlockingClient() {
    if (fd_ >= 0) ::close(fd_);
}

void BlockingClient::send(std::uint32_t msg_id, Bytes payload) {
    ByteBuffer frame;
    append_frame(frame, msg_id, payload);
    send_raw(frame);
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

bool BlockingClient::read_some(std::chrono::milliseconds timeout) {
    pollfd p{fd_, POLLIN, 0};
    int ready = ::poll(&p, 1, static_cast<int>(timeout.count()));
    if (ready == 0) return false;
    if (ready < 0) return errno == EINTR;
    std::array<std::byte, 64 * 1024> buffer;
    auto n = ::recv(fd_, buffer.data(), buffer.size(), 0);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return true;
    if (n <= 0) {
        closed_ = true;
        return false;
    }
    auto status = reader_.feed(Bytes{buffer.data(), static_cast<std::size_t>(n)},
                               [this](std::uint32_t id, Bytes payload) {
                                   frames_.push_back({id, std::string(as_text(payload))});
                                   return true;
                               });
    if (status == FeedStatus::oversized) closed_ = true;
    return !closed_;
}

void BlockingClient::shutdown_write() {
    if (fd_ >= 0) ::shutdown(fd_, SHUT_WR);
}

void BlockingClient::close() {
    if (fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);
}

}  // namespace dinx::node
