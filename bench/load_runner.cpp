#include "bench/load_runner.hpp"

#include "bench/percentile.hpp"

#include "node/frame_codec.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

namespace dinx::bench {
namespace {

using Clock = std::chrono::steady_clock;

std::uint64_t now_ns() {
    return static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
            .count());
}

std::system_error os_error(const std::string& what) {
    return std::system_error(errno, std::generic_category(), what);
}

// ---- connections ----------------------------------------------------------------------------

/// One client connection of the tool.
struct Conn {
    int fd = -1;
    node::FrameReader reader{16u << 20};
    ByteBuffer out;              // requests not yet written
    std::uint64_t next_seq = 0;  // of the next request
    std::uint64_t expected = 0;  // seq the next reply should carry
    std::uint32_t in_flight = 0;
    bool dirty = false;  // has bytes to write
    bool open = true;
};

void raise_fd_limit(std::size_t needed) {
    rlimit limit{};
    ::getrlimit(RLIMIT_NOFILE, &limit);
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
    if (limit.rlim_cur < needed + 32)
        throw std::runtime_error("needs " + std::to_string(needed) + " open files, the limit is " +
                                 std::to_string(limit.rlim_cur) +
                                 "; run several dinx-load processes");
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
int start_connect(const sockaddr_in& server, int source) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) throw os_error("socket");
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (source > 0) {
        // Let the kernel pick the port at connect time, per destination: many more ports.
        ::setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
        sockaddr_in local{};
        local.sin_family = AF_INET;
        local.sin_addr.s_addr = htonl((127u << 24) | static_cast<std::uint32_t>(source));
        if (::bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0)
            throw os_error("bind 127.0.0." + std::to_string(source));
    }
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&server), sizeof server) != 0 &&
        errno != EINPROGRESS)
        throw os_error("connect");
    return fd;
}

/// An epoll set; each registered fd's data is its index in the caller's vector.
class Poller {
public:
    Poller() : fd_(::epoll_create1(EPOLL_CLOEXEC)) {}
    ~Poller() { ::close(fd_); }
    void add(int fd, std::uint32_t index, std::uint32_t events) {
        control(EPOLL_CTL_ADD, fd, index, events);
    }
    void modify(int fd, std::uint32_t index, std::uint32_t events) {
        control(EPOLL_CTL_MOD, fd, index, events);
    }
    void remove(int fd) { ::epoll_ctl(fd_, EPOLL_CTL_DEL, fd, nullptr); }
    int wait(epoll_event* events, int max, int timeout_ms) {
        return ::epoll_wait(fd_, events, max, timeout_ms);
    }

private:
    void control(int op, int fd, std::uint32_t index, std::uint32_t events) {
        epoll_event event{};
        event.events = events;
        event.data.u32 = index;
        if (::epoll_ctl(fd_, op, fd, &event) != 0) throw os_error("epoll_ctl");
    }
    int fd_;
};

/// Connects `count` sockets, at most `window` handshakes at a time; throws on the first failure.
std::vector<Conn> connect_all(const LoadOptions& options, std::uint32_t count,
                              std::uint32_t sources) {
    auto server = address_of(options.host, options.port);
    std::vector<Conn> conns(count);
    Poller poller;
    constexpr std::uint32_t window = 512;
    std::uint32_t started = 0, done = 0;
    auto deadline = Clock::now() + std::chrono::seconds(30);
    epoll_event events[512];
    while (done < count) {
        while (started < count && started - done < window) {
            conns[started].fd = start_connect(server, sources > 1 ? int(1 + started % sources) : 0);
            poller.add(conns[started].fd, started, EPOLLOUT);
            ++started;
        }
        if (Clock::now() > deadline)
            throw std::runtime_error("connecting took over 30 s (" + std::to_string(done) + "/" +
                                     std::to_string(count) + " connected)");
        int n = poller.wait(events, 512, 100);
        for (int i = 0; i < n; ++i) {
            auto& conn = conns[events[i].data.u32];
            int error = 0;
            socklen_t len = sizeof error;
            ::getsockopt(conn.fd, SOL_SOCKET, SO_ERROR, &error, &len);
            if (error != 0) {
                errno = error;
                throw os_error("connect to " + options.host + ":" + std::to_string(options.port));
            }
            poller.remove(conn.fd);
            ++done;
        }
    }
    return conns;
}

// ---- closed-loop load -------------------------------------------------------------------------

/// What a run counted.
struct Tally {
    std::uint64_t replies = 0;  // in the measured window
    std::uint64_t errors = 0;   // error frames, and replies that are not our echo
    std::uint64_t out_of_order = 0;
    std::uint64_t lost = 0;
    std::uint64_t closed = 0;  // connections the server closed
    std::vector<std::uint32_t> latencies_ns;
};

class LoadRun {
public:
    LoadRun(const LoadOptions& options, std::vector<Conn> conns)
        : options_(options), conns_(std::move(conns)), payload_(options.size, std::byte{'x'}) {
        for (std::uint32_t i = 0; i < conns_.size(); ++i)
            poller_.add(conns_[i].fd, i, EPOLLIN | EPOLLRDHUP);
        tally_.latencies_ns.reserve(1 << 22);
    }

    Tally run() {
        auto start = Clock::now();
        measure_from_ = start + to_duration(options_.warmup_s);
        measure_until_ = measure_from_ + to_duration(options_.duration_s);
        for (auto& conn : conns_)
            for (std::uint32_t d = 0; d < options_.depth; ++d) send_request(conn);
        flush_dirty();
        loop_until([&] { return Clock::now() >= measure_until_; });
        draining_ = true;
        auto drain_until = Clock::now() + to_duration(options_.drain_s);
        loop_until([&] { return in_flight() == 0 || Clock::now() >= drain_until; });
        tally_.lost = in_flight();
        return std::move(tally_);
    }

private:
    static Clock::duration to_duration(double seconds) {
        return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
    }

    std::uint64_t in_flight() const {
        std::uint64_t total = 0;
        for (const auto& conn : conns_)
            if (conn.open) total += conn.in_flight;
        return total;
    }

    template <class Done>
    void loop_until(Done done) {
        epoll_event events[512];
        while (!done()) {
            int n = poller_.wait(events, 512, 5);
            now_ = now_ns();
            measuring_ =
                !draining_ && Clock::now() >= measure_from_ && Clock::now() < measure_until_;
            for (int i = 0; i < n; ++i)
                on_event(conns_[events[i].data.u32], events[i].data.u32, events[i].events);
            flush_dirty();
        }
    }

    void on_event(Conn& conn, std::uint32_t index, std::uint32_t events) {
        if (!conn.open) return;
        if (events & EPOLLOUT) write(conn, index);
        if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) read(conn);
    }

    void read(Conn& conn) {
        while (conn.open) {
            ssize_t got = ::recv(conn.fd, buffer_, sizeof buffer_, 0);
            if (got < 0 && (errno == EAGAIN || errno == EINTR)) return;
            if (got <= 0) {
                close(conn);
                return;
            }
            auto status = conn.reader.feed(Bytes{buffer_, static_cast<std::size_t>(got)},
                                           [&](std::uint32_t id, Bytes data) {
                                               on_reply(conn, id, data);
                                               return true;
                                           });
            if (status != node::FeedStatus::ok) close(conn);
            if (static_cast<std::size_t>(got) < sizeof buffer_) return;
        }
    }

    void close(Conn& conn) {
        conn.open = false;
        ++tally_.closed;
        tally_.lost += conn.in_flight;
        poller_.remove(conn.fd);
        ::close(conn.fd);
    }

    void on_reply(Conn& conn, std::uint32_t msg_id, Bytes data) {
        if (conn.in_flight == 0) {
            ++tally_.errors;  // a frame nobody asked for
            return;
        }
        --conn.in_flight;
        if (msg_id != options_.msg_id || data.size() != options_.size) {
            ++tally_.errors;  // an error frame takes the place of the reply it stands for
            ++conn.expected;
        } else {
            std::uint64_t seq, sent_ns;
            std::memcpy(&seq, data.data(), sizeof seq);
            std::memcpy(&sent_ns, data.data() + 8, sizeof sent_ns);
            if (seq != conn.expected) ++tally_.out_of_order;
            conn.expected = seq + 1;
            if (measuring_) {
                ++tally_.replies;
                tally_.latencies_ns.push_back(static_cast<std::uint32_t>(
                    std::min<std::uint64_t>(now_ - sent_ns, 0xFFFF'FFFF)));
            }
        }
        if (!draining_) send_request(conn);
    }

    void send_request(Conn& conn) {
        std::uint64_t seq = conn.next_seq++;
        std::uint64_t sent = now_ns();
        std::memcpy(payload_.data(), &seq, sizeof seq);
        std::memcpy(payload_.data() + 8, &sent, sizeof sent);
        node::append_frame(conn.out, options_.msg_id, payload_);
        ++conn.in_flight;
        if (!conn.dirty) {
            conn.dirty = true;
            dirty_.push_back(static_cast<std::uint32_t>(&conn - conns_.data()));
        }
    }

    // One write per connection per wake-up, whatever was queued on it.
    void flush_dirty() {
        for (auto index : dirty_) {
            conns_[index].dirty = false;
            write(conns_[index], index);
        }
        dirty_.clear();
    }

    void write(Conn& conn, std::uint32_t index) {
        if (!conn.open || conn.out.empty()) return;
        ssize_t sent = ::send(conn.fd, conn.out.data(), conn.out.size(), MSG_NOSIGNAL);
        if (sent < 0 && errno != EAGAIN) {
            close(conn);
            return;
        }
        if (sent > 0) conn.out.erase(conn.out.begin(), conn.out.begin() + sent);
        poller_.modify(
            conn.fd, index,
            conn.out.empty() ? (EPOLLIN | EPOLLRDHUP) : (EPOLLIN | EPOLLRDHUP | EPOLLOUT));
    }

    const LoadOptions& options_;
    std::vector<Conn> conns_;
    Poller poller_;
    ByteBuffer payload_;
    std::vector<std::uint32_t> dirty_;
    Tally tally_;
    Clock::time_point measure_from_, measure_until_;
    std::uint64_t now_ = 0;
    bool measuring_ = false;
    bool draining_ = false;
    std::byte buffer_[256 * 1024];
};

void report(const LoadOptions& options, Tally& tally) {
    double rps = static_cast<double>(tally.replies) / options.duration_s;
    double p50 = percentile_us(tally.latencies_ns, 0.50);
    double p99 = percentile_us(tally.latencies_ns, 0.99);
    double p999 = percentile_us(tally.latencies_ns, 0.999);
    std::printf(
        "dinx-load: %u conns x %u in flight, %u-byte payloads, msgID %u, %.1f s after %.1f s "
        "warm-up\n",
        options.conns, options.depth, options.size, options.msg_id, options.duration_s,
        options.warmup_s);
    std::printf("round trips/s: %.0f\n", rps);
    std::printf("latency us:    p50 %.1f   p99 %.1f   p999 %.1f\n", p50, p99, p999);
    std::printf("errors %llu   lost %llu   out-of-order %llu   closed by server %llu\n",
                static_cast<unsigned long long>(tally.errors),
                static_cast<unsigned long long>(tally.lost),
                static_cast<unsigned long long>(tally.out_of_order),
                static_cast<unsigned long long>(tally.closed));
    std::printf(
        "RESULT conns=%u depth=%u size=%u rps=%.0f p50_us=%.1f p99_us=%.1f p999_us=%.1f "
        "errors=%llu lost=%llu out_of_order=%llu\n",
        options.conns, options.depth, options.size, rps, p50, p99, p999,
        static_cast<unsigned long long>(tally.errors), static_cast<unsigned long long>(tally.lost),
        static_cast<unsigned long long>(tally.out_of_order));
}

// ---- one exchange per connection --------------------------------------------------------------

// Sends `frames[i]` on connection i and waits until each has one answer, which `check(i, msg_id,
// payload)` judges (it throws when the answer is wrong).
template <class Check>
void ask_each(std::vector<Conn>& conns, const std::vector<ByteBuffer>& frames, Check check) {
    Poller poller;
    for (std::uint32_t i = 0; i < conns.size(); ++i) {
        if (::send(conns[i].fd, frames[i].data(), frames[i].size(), MSG_NOSIGNAL) !=
            ssize_t(frames[i].size()))
            throw os_error("send");
        poller.add(conns[i].fd, i, EPOLLIN);
    }
    std::vector<bool> done(conns.size(), false);
    std::size_t answered = 0;
    auto deadline = Clock::now() + std::chrono::seconds(30);
    epoll_event events[512];
    std::byte buffer[4096];
    while (answered < conns.size()) {
        if (Clock::now() > deadline)
            throw std::runtime_error("only " + std::to_string(answered) + " of " +
                                     std::to_string(conns.size()) + " connections answered");
        int n = poller.wait(events, 512, 100);
        for (int e = 0; e < n; ++e) {
            auto i = events[e].data.u32;
            ssize_t got = ::recv(conns[i].fd, buffer, sizeof buffer, 0);
            if (got <= 0) throw std::runtime_error("the server closed a connection");
            conns[i].reader.feed(Bytes{buffer, static_cast<std::size_t>(got)},
                                 [&](std::uint32_t id, Bytes payload) {
                                     if (done[i]) return true;  // (a push: not ours to judge)
                                     check(i, id, payload);
                                     done[i] = true;
                                     ++answered;
                                     poller.remove(conns[i].fd);
                                     return true;
                                 });
        }
    }
}

// Connection i logs in as options.login + i; an answer of another msgID (an error frame) is
// a failed login.
void log_in_each(const LoadOptions& options, std::vector<Conn>& conns) {
    std::vector<ByteBuffer> frames(conns.size());
    for (std::size_t i = 0; i < conns.size(); ++i)
        node::append_frame(frames[i], options.login_msg_id,
                           as_bytes(options.login + std::to_string(i)));
    ask_each(conns, frames, [&](std::uint32_t i, std::uint32_t msg_id, Bytes payload) {
        if (msg_id != options.login_msg_id)
            throw std::runtime_error("the login of " + options.login + std::to_string(i) +
                                     " was answered with msgID " + std::to_string(msg_id) + ": " +
                                     std::string(as_text(payload)));
    });
    std::printf("dinx-load: %zu connections logged in as %s<i>\n", conns.size(),
                options.login.c_str());
    std::fflush(stdout);
}

// ---- idle connections ---------------------------------------------------------------------

// One echo on every connection proves the server accepted it and holds a session for it.
void echo_once(const LoadOptions& options, std::vector<Conn>& conns) {
    ByteBuffer frame, payload(options.size, std::byte{'i'});
    node::append_frame(frame, options.msg_id, payload);
    ask_each(conns, std::vector<ByteBuffer>(conns.size(), frame),
             [](std::uint32_t, std::uint32_t, Bytes) {});
}

std::size_t count_dropped(std::vector<Conn>& conns) {
    std::size_t dropped = 0;
    std::byte byte;
    for (auto& conn : conns)
        if (::recv(conn.fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT) == 0) ++dropped;
    return dropped;
}

}  // namespace

int run_load(const LoadOptions& options) {
    raise_fd_limit(options.conns);
    auto conns = connect_all(options, options.conns, 1);
    if (!options.login.empty()) log_in_each(options, conns);
    LoadRun run(options, std::move(conns));
    auto tally = run.run();
    report(options, tally);
    bool good = tally.replies > 0 && tally.errors == 0 && tally.lost == 0 &&
                tally.out_of_order == 0 && tally.closed == 0;
    return good ? 0 : 1;
}

int run_idle(const LoadOptions& options) {
    // Blocked now, taken by sigwait later: a stop signal can neither kill us nor be missed.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    ::pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
    raise_fd_limit(options.idle);
    auto conns = connect_all(options, options.idle, std::max(1u, options.sources));
    if (!options.login.empty()) log_in_each(options, conns);
    echo_once(options, conns);
    std::printf("IDLE connected=%u\n", options.idle);
    std::fflush(stdout);
    int signal = 0;
    ::sigwait(&stop_signals, &signal);
    auto dropped = count_dropped(conns);
    std::printf("IDLE held=%zu dropped=%zu\n", conns.size() - dropped, dropped);
    for (auto& conn : conns) ::close(conn.fd);
    return dropped == 0 ? 0 : 1;
}

}  // namespace dinx::bench
