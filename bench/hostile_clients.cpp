#include "bench/hostile_clients.hpp"

#include "node/frame_codec.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <vector>

namespace dinx::bench {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

std::atomic<bool> stop_requested{false};

// The hello envelope's kind: the first frame a link expects.
constexpr std::uint32_t hello_kind = 1;
// The demo's login msgID (--login).
constexpr std::uint32_t login_msg_id = 1;
// A readless client's receive buffer: the kernel holds little, so the gate's queue grows.
constexpr int tiny_receive_buffer = 4096;
// Bytes one connection may send before the loop moves on to the others.
constexpr std::size_t bytes_per_turn = 1 << 20;

enum class Mode { pipeline, readless, broadcast, silent, trickle, preauth };

Mode mode_of(const std::string& name) {
    if (name == "pipeline") return Mode::pipeline;
    if (name == "readless") return Mode::readless;
    if (name == "broadcast") return Mode::broadcast;
    if (name == "silent") return Mode::silent;
    if (name == "trickle") return Mode::trickle;
    return Mode::preauth;
}

struct Conn {
    int fd = -1;
    ByteBuffer out;             // bytes still to send of the current frame(s)
    std::size_t sent = 0;       // of out
    std::uint64_t seq = 0;      // broadcast: of the one in flight
    std::size_t remaining = 0;  // preauth: bytes of the announced frame not queued yet
    node::FrameReader reader{64 << 20};
    Clock::time_point next_byte{};  // trickle
};

class Attack {
public:
    explicit Attack(const HostileOptions& options)
        : options_(options), mode_(mode_of(options.mode)), epoll_(::epoll_create1(EPOLL_CLOEXEC)) {}
    ~Attack() {
        for (auto& conn : conns_)
            if (conn.fd >= 0) ::close(conn.fd);
        ::close(epoll_);
    }

    int run() {
        conns_.resize(options_.clients);
        for (auto& conn : conns_) open(conn);
        // Tests wait for this line before they count on the connections being there.
        std::printf("HOSTILE connected=%llu\n", static_cast<unsigned long long>(opened_));
        std::fflush(stdout);
        auto until = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                        std::chrono::duration<double>(options_.duration_s));
        while (!stop_requested && (options_.duration_s <= 0 || Clock::now() < until)) {
            epoll_event events[64];
            int n = ::epoll_wait(epoll_, events, 64, 10);
            for (int i = 0; i < n; ++i) on_event(conns_[events[i].data.u64], events[i].events);
            for (auto& conn : conns_) tend(conn);
        }
        std::printf("HOSTILE mode=%s connections=%llu cuts=%llu sent_bytes=%llu\n",
                    options_.mode.c_str(), static_cast<unsigned long long>(opened_),
                    static_cast<unsigned long long>(cuts_),
                    static_cast<unsigned long long>(sent_bytes_));
        return 0;
    }

private:
    std::size_t index_of(const Conn& conn) const { return &conn - conns_.data(); }

    void open(Conn& conn) {
        conn = Conn{};
        conn.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (mode_ == Mode::readless)
            ::setsockopt(conn.fd, SOL_SOCKET, SO_RCVBUF, &tiny_receive_buffer,
                         sizeof tiny_receive_buffer);
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_port = htons(options_.port);
        ::inet_pton(AF_INET, options_.host.c_str(), &address.sin_addr);
        if (::connect(conn.fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
            ::close(conn.fd);
            conn.fd = -1;  // tried again by tend()
            return;
        }
        ++opened_;
        int one = 1;
        ::setsockopt(conn.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        ::fcntl(conn.fd, F_SETFL, ::fcntl(conn.fd, F_GETFL) | O_NONBLOCK);
        epoll_event event{};
        event.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
        event.data.u64 = index_of(conn);
        ::epoll_ctl(epoll_, EPOLL_CTL_ADD, conn.fd, &event);
        first_frames(conn);
        flush(conn);
    }

    // A login goes first, unanswered yet: the gate handles a connection's frames in order, and
    // the demo's login binds on the gate itself, so what follows is already a player's.
    void log_in(Conn& conn) {
        auto name = options_.login + std::to_string(opened_);
        node::append_frame(conn.out, login_msg_id, as_bytes(name));
    }

    void first_frames(Conn& conn) {
        bool player =
            mode_ == Mode::pipeline || mode_ == Mode::readless || mode_ == Mode::broadcast;
        if (player && !options_.login.empty()) log_in(conn);
        switch (mode_) {
            case Mode::pipeline:
                queue_request(conn);
                break;
            case Mode::readless:
                node::append_frame(conn.out, options_.msg_id, {});
                break;
            case Mode::broadcast:
                queue_broadcast(conn);
                break;
            case Mode::trickle:
                conn.out.resize(node::frame_header_size);
                node::write_frame_header(conn.out.data(), {options_.msg_id, options_.size});
                conn.next_byte = Clock::now();
                break;
            case Mode::preauth:
                conn.out.resize(node::frame_header_size);
                node::write_frame_header(conn.out.data(), {hello_kind, options_.size});
                conn.remaining = options_.size;
                break;
            case Mode::silent:
                break;
        }
    }

    void queue_request(Conn& conn) {
        ByteBuffer payload(options_.size, std::byte{'p'});
        node::append_frame(conn.out, options_.msg_id, payload);
    }

    // A broadcast ends with (connection index, seq): its own copy tells it arrived (the demo
    // puts the sender's name before the text).
    void queue_broadcast(Conn& conn) {
        ByteBuffer payload(std::max<std::size_t>(options_.size, 16), std::byte{'b'});
        std::uint64_t index = index_of(conn);
        std::memcpy(payload.data() + payload.size() - 16, &index, 8);
        std::memcpy(payload.data() + payload.size() - 8, &conn.seq, 8);
        node::append_frame(conn.out, options_.msg_id, payload);
    }

    // The announced frame goes out 64 KiB at a time.
    void queue_chunk(Conn& conn) {
        auto chunk = std::min<std::size_t>(conn.remaining, 64 * 1024);
        conn.out.assign(chunk, std::byte{0});
        conn.remaining -= chunk;
    }

    void on_event(Conn& conn, std::uint32_t events) {
        if (conn.fd < 0) return;
        if (mode_ == Mode::broadcast && (events & EPOLLIN)) read_all(conn);
        if (conn.fd >= 0 && (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))) {
            cut(conn);
            return;
        }
        if (conn.fd >= 0 && (events & EPOLLOUT)) flush(conn);
    }

    void read_all(Conn& conn) {
        std::byte buffer[64 * 1024];
        while (conn.fd >= 0) {
            ssize_t got = ::recv(conn.fd, buffer, sizeof buffer, 0);
            if (got < 0 && (errno == EAGAIN || errno == EINTR)) return;
            if (got <= 0) {
                cut(conn);
                return;
            }
            conn.reader.feed(Bytes{buffer, static_cast<std::size_t>(got)},
                             [&](std::uint32_t id, Bytes payload) {
                                 on_broadcast(conn, id, payload);
                                 return true;
                             });
        }
    }

    void on_broadcast(Conn& conn, std::uint32_t msg_id, Bytes payload) {
        if (msg_id != options_.msg_id || payload.size() < 16) return;
        std::uint64_t index = 0, seq = 0;
        std::memcpy(&index, payload.data() + payload.size() - 16, 8);
        std::memcpy(&seq, payload.data() + payload.size() - 8, 8);
        if (index != index_of(conn) || seq != conn.seq) return;
        ++conn.seq;  // our own came back: the next one
        queue_broadcast(conn);
        flush(conn);
    }

    // At most a turn's worth per call, so one fast connection cannot hold the loop (and the
    // deadline) forever; tend() comes back for the rest.
    void flush(Conn& conn) {
        std::size_t turn = 0;
        while (conn.fd >= 0 && conn.sent < conn.out.size() && turn < bytes_per_turn) {
            ssize_t n = ::send(conn.fd, conn.out.data() + conn.sent, conn.out.size() - conn.sent,
                               MSG_NOSIGNAL);
            if (n < 0) {
                if (errno != EAGAIN && errno != EINTR) cut(conn);
                return;
            }
            conn.sent += static_cast<std::size_t>(n);
            turn += static_cast<std::size_t>(n);
            sent_bytes_ += static_cast<std::uint64_t>(n);
            if (conn.sent == conn.out.size()) {
                conn.out.clear();
                conn.sent = 0;
                if (mode_ == Mode::pipeline) queue_request(conn);  // and on, never reading
                if (mode_ == Mode::preauth && conn.remaining > 0) queue_chunk(conn);
            }
        }
    }

    void tend(Conn& conn) {
        if (conn.fd < 0) {
            open(conn);
            return;
        }
        if (mode_ == Mode::pipeline || mode_ == Mode::preauth) flush(conn);
        if (mode_ != Mode::trickle || Clock::now() < conn.next_byte) return;
        // The header went first; then one byte of the payload per second.
        if (conn.out.empty()) conn.out.push_back(std::byte{'t'});
        conn.next_byte = Clock::now() + 1s;
        flush(conn);
    }

    void cut(Conn& conn) {
        ::epoll_ctl(epoll_, EPOLL_CTL_DEL, conn.fd, nullptr);
        ::close(conn.fd);
        conn.fd = -1;
        ++cuts_;
    }

    const HostileOptions& options_;
    Mode mode_;
    int epoll_;
    std::vector<Conn> conns_;
    std::uint64_t opened_ = 0, cuts_ = 0, sent_bytes_ = 0;
};

}  // namespace

int run_hostile(const HostileOptions& options) {
    std::signal(SIGTERM, [](int) { stop_requested = true; });
    std::signal(SIGINT, [](int) { stop_requested = true; });
    Attack attack(options);
    return attack.run();
}

}  // namespace dinx::bench
