#include "bench/fanout_members.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <stdexcept>
#include <system_error>

namespace dinx::bench {
namespace {

using Clock = std::chrono::steady_clock;

std::system_error os_error(const std::string& what) {
    return std::system_error(errno, std::generic_category(), what);
}

sockaddr_in address_of(const std::string& host, std::uint16_t port) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    if (::inet_pton(AF_INET, host.c_str(), &address.sin_addr) != 1)
        throw std::runtime_error("not an IPv4 address: " + host);
    return address;
}

// Starts a non-blocking connect, from 127.0.0.<source> when source > 0.
int start_connect(const sockaddr_in& server, std::uint32_t source) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) throw os_error("socket");
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (source > 0) {
        // Let the kernel pick the port at connect time, per destination: many more ports.
        ::setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
        sockaddr_in local{};
        local.sin_family = AF_INET;
        local.sin_addr.s_addr = htonl((127u << 24) | source);
        if (::bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0)
            throw os_error("bind 127.0.0." + std::to_string(source));
    }
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&server), sizeof server) != 0 &&
        errno != EINPROGRESS)
        throw os_error("connect");
    return fd;
}

void control(int epoll_fd, int op, int fd, std::uint32_t index, std::uint32_t events) {
    epoll_event event{};
    event.events = events;
    event.data.u32 = index;
    if (::epoll_ctl(epoll_fd, op, fd, &event) != 0) throw os_error("epoll_ctl");
}

constexpr std::uint32_t read_events = EPOLLIN | EPOLLRDHUP;

}  // namespace

void raise_fd_limit(std::size_t needed) {
    rlimit limit{};
    ::getrlimit(RLIMIT_NOFILE, &limit);
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
    if (limit.rlim_cur < needed + 32)
        throw std::runtime_error("needs " + std::to_string(needed) + " open files, the limit is " +
                                 std::to_string(limit.rlim_cur));
}

Members::Members(const Endpoints& endpoints, std::uint32_t count)
    : epoll_fd_(::epoll_create1(EPOLL_CLOEXEC)), buffer_(256 * 1024) {
    if (endpoints.ports.empty()) throw std::runtime_error("no server port");
    try {
        connect_all(endpoints, count);
    } catch (...) {
        close_all();  // no destructor runs for an object whose constructor threw
        throw;
    }
}

Members::~Members() {
    close_all();
}

void Members::close_all() {
    for (auto& member : members_)
        if (member.fd >= 0) ::close(member.fd);
    members_.clear();
    if (epoll_fd_ >= 0) ::close(epoll_fd_);
    epoll_fd_ = -1;
}

// A window of handshakes at a time, so that the server's accept backlog never overflows.
void Members::connect_all(const Endpoints& endpoints, std::uint32_t count) {
    std::vector<sockaddr_in> servers;
    for (auto port : endpoints.ports) servers.push_back(address_of(endpoints.host, port));
    members_.resize(count);
    constexpr std::uint32_t window = 512;
    std::uint32_t started = 0, done = 0;
    auto deadline = Clock::now() + std::chrono::seconds(60);
    epoll_event events[512];
    while (done < count) {
        for (; started < count && started - done < window; ++started) {
            std::uint32_t source = endpoints.sources > 1 ? 1 + started % endpoints.sources : 0;
            members_[started].fd = start_connect(servers[started % servers.size()], source);
            control(epoll_fd_, EPOLL_CTL_ADD, members_[started].fd, started, EPOLLOUT);
        }
        if (Clock::now() > deadline)
            throw std::runtime_error("connecting took over 60 s (" + std::to_string(done) + "/" +
                                     std::to_string(count) + " connected)");
        int n = ::epoll_wait(epoll_fd_, events, 512, 100);
        for (int i = 0; i < n; ++i) {
            std::uint32_t index = events[i].data.u32;
            int error = 0;
            socklen_t len = sizeof error;
            ::getsockopt(members_[index].fd, SOL_SOCKET, SO_ERROR, &error, &len);
            if (error != 0) {
                errno = error;
                throw os_error("connect to " + endpoints.host + ":" +
                               std::to_string(endpoints.ports[index % endpoints.ports.size()]));
            }
            control(epoll_fd_, EPOLL_CTL_MOD, members_[index].fd, index, read_events);
            ++done;
        }
    }
}

void Members::send(std::uint32_t index, std::uint32_t msg_id, Bytes payload) {
    auto& member = members_[index];
    if (!member.open) return;
    node::append_frame(member.out, msg_id, payload);
    if (!member.dirty && !member.watching_out) {
        member.dirty = true;
        dirty_.push_back(index);
    }
}

void Members::poll(FrameSink& sink, int timeout_ms) {
    epoll_event events[512];
    int n = ::epoll_wait(epoll_fd_, events, 512, timeout_ms);
    for (int i = 0; i < n; ++i) {
        std::uint32_t index = events[i].data.u32;
        if (!members_[index].open) continue;
        if (events[i].events & EPOLLOUT) write(index);
        if (events[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) read(index, sink);
    }
    flush();
}

// One send per member with frames queued, whatever send() queued on it.
void Members::flush() {
    for (auto index : dirty_) {
        members_[index].dirty = false;
        write(index);
    }
    dirty_.clear();
}

void Members::read(std::uint32_t index, FrameSink& sink) {
    auto& member = members_[index];
    while (member.open) {
        ssize_t got = ::recv(member.fd, buffer_.data(), buffer_.size(), 0);
        if (got < 0 && (errno == EAGAIN || errno == EINTR)) return;
        if (got <= 0) return close(index, sink);
        auto status = member.reader.feed(Bytes{buffer_.data(), static_cast<std::size_t>(got)},
                                         [&](std::uint32_t msg_id, Bytes data) {
                                             sink.on_frame(index, msg_id, data);
                                             return true;
                                         });
        if (status != node::FeedStatus::ok) return close(index, sink);
        if (static_cast<std::size_t>(got) < buffer_.size()) return;
    }
}

void Members::write(std::uint32_t index) {
    auto& member = members_[index];
    if (!member.open || member.out.empty()) return;
    ssize_t sent = ::send(member.fd, member.out.data(), member.out.size(), MSG_NOSIGNAL);
    if (sent < 0 && errno != EAGAIN && errno != EINTR) {
        // The read side reports the close to the sink when the poll sees it.
        member.out.clear();
        return;
    }
    if (sent > 0) member.out.erase(member.out.begin(), member.out.begin() + sent);
    watch_out(index, !member.out.empty());
}

void Members::watch_out(std::uint32_t index, bool on) {
    auto& member = members_[index];
    if (member.watching_out == on) return;
    member.watching_out = on;
    control(epoll_fd_, EPOLL_CTL_MOD, member.fd, index,
            on ? (read_events | EPOLLOUT) : read_events);
}

void Members::close(std::uint32_t index, FrameSink& sink) {
    auto& member = members_[index];
    member.open = false;
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, member.fd, nullptr);
    sink.on_closed(index);
}

std::size_t Members::count_dropped() const {
    std::size_t dropped = 0;
    std::byte byte;
    for (const auto& member : members_)
        if (!member.open || ::recv(member.fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT) == 0) ++dropped;
    return dropped;
}

}  // namespace dinx::bench
