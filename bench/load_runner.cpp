#include "bench/load_runner.hpp"

#include "bench/percentile.hpp"

#include "node/frame_codec.hpp"
#include "node/tls_layer.hpp"
#include "node/websocket_client_layer.hpp"

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
#include <memory>
#include <optional>
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
    std::unique_ptr<node::WireLayer> layer;  // WebSocket, TLS or both; null for plain TCP
    ByteBuffer plain;            // with a layer: requests not yet wrapped (one message per write)
    ByteBuffer out;              // bytes not yet written
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

// ---- wire layers ------------------------------------------------------------------------------

/// Queues a whole frame (or frames) on `conn`: as they are, or wrapped by its layer.
void queue_frames(Conn& conn, Bytes frames) {
    if (conn.layer)
        conn.layer->wrap_out(frames, conn.out);
    else
        append(conn.out, frames);
}

/// Passes bytes read on a layered connection through its layer, whose answers (a pong, TLS
/// records) are queued on conn.out, then through its frame reader. False when the connection
/// must end; `why` then says why.
template <class OnFrame>
bool take_layered(Conn& conn, Bytes chunk, OnFrame&& on_frame, std::string& why) {
    // The frame reader copies what it keeps: one buffer serves every connection.
    thread_local ByteBuffer up;
    up.clear();
    auto verdict = conn.layer->take_in(chunk, up, conn.out);
    auto status = conn.reader.feed(Bytes{up}, on_frame);
    why = !verdict.keep_open ? verdict.reason : status != node::FeedStatus::ok ? "a bad frame" : "";
    return verdict.keep_open && status == node::FeedStatus::ok;
}

/// Writes what `conn` has queued, as far as the socket takes it; false when the socket broke.
bool write_some(Conn& conn) {
    if (conn.out.empty()) return true;
    ssize_t sent = ::send(conn.fd, conn.out.data(), conn.out.size(), MSG_NOSIGNAL);
    if (sent < 0) return errno == EAGAIN || errno == EINTR;
    conn.out.erase(conn.out.begin(), conn.out.begin() + sent);
    return true;
}

// ---- closed-loop load -------------------------------------------------------------------------

/// What a run counted.
struct Tally {
    std::uint64_t replies = 0;  // in the measured window
    std::uint64_t errors = 0;   // error frames, and replies that are not our echo
    std::uint64_t out_of_order = 0;
    std::uint64_t lost = 0;
    std::uint64_t closed = 0;  // connections the server closed
    std::uint64_t resets = 0;  // of those, closed with a reset rather than an orderly end
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
                // A reset means the server dropped what it had not read: a drained gate ends
                // its connections in order instead.
                if (got < 0 && errno == ECONNRESET) ++tally_.resets;
                close(conn);
                return;
            }
            Bytes chunk{buffer_, static_cast<std::size_t>(got)};
            auto on_frame = [&](std::uint32_t id, Bytes data) {
                on_reply(conn, id, data);
                return true;
            };
            if (conn.layer) {
                read_layered(conn, chunk, on_frame);
            } else if (conn.reader.feed(chunk, on_frame) != node::FeedStatus::ok) {
                close(conn);
            }
            if (static_cast<std::size_t>(got) < sizeof buffer_) return;
        }
    }

    template <class OnFrame>
    void read_layered(Conn& conn, Bytes chunk, OnFrame& on_frame) {
        std::string why;
        bool keep = take_layered(conn, chunk, on_frame, why);
        if (!conn.out.empty()) mark_dirty(conn);  // the layer answered (a pong, TLS records)
        if (!keep) close(conn);
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
        node::append_frame(conn.layer ? conn.plain : conn.out, options_.msg_id, payload_);
        ++conn.in_flight;
        mark_dirty(conn);
    }

    void mark_dirty(Conn& conn) {
        if (conn.dirty) return;
        conn.dirty = true;
        dirty_.push_back(static_cast<std::uint32_t>(&conn - conns_.data()));
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
        if (conn.layer && !conn.plain.empty() && conn.open) {
            // Everything queued since the last write leaves as one WebSocket message.
            conn.layer->wrap_out(Bytes{conn.plain}, conn.out);
            conn.plain.clear();
        }
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
        "dinx-load: %u %s conns x %u in flight, %u-byte payloads, msgID %u, %.1f s after %.1f s "
        "warm-up\n",
        options.conns, options.transport().c_str(), options.depth, options.size, options.msg_id,
        options.duration_s, options.warmup_s);
    std::printf("round trips/s: %.0f\n", rps);
    std::printf("latency us:    p50 %.1f   p99 %.1f   p999 %.1f\n", p50, p99, p999);
    std::printf(
        "errors %llu   lost %llu   out-of-order %llu   closed by server %llu   reset by server "
        "%llu\n",
        static_cast<unsigned long long>(tally.errors), static_cast<unsigned long long>(tally.lost),
        static_cast<unsigned long long>(tally.out_of_order),
        static_cast<unsigned long long>(tally.closed),
        static_cast<unsigned long long>(tally.resets));
    std::printf(
        "RESULT conns=%u depth=%u size=%u rps=%.0f p50_us=%.1f p99_us=%.1f p999_us=%.1f "
        "errors=%llu lost=%llu out_of_order=%llu transport=%s\n",
        options.conns, options.depth, options.size, rps, p50, p99, p999,
        static_cast<unsigned long long>(tally.errors), static_cast<unsigned long long>(tally.lost),
        static_cast<unsigned long long>(tally.out_of_order), options.transport().c_str());
}

// ---- one exchange per connection --------------------------------------------------------------

// Writes what each connection has queued and reads until `done(i)` holds for every one;
// throws after 30 s, saying how many were `what`. Frames go to `on_frame(i, msg_id, payload)`.
template <class OnFrame, class Done>
void exchange(std::vector<Conn>& conns, const char* what, OnFrame on_frame, Done done) {
    Poller poller;
    for (std::uint32_t i = 0; i < conns.size(); ++i) {
        if (!write_some(conns[i])) throw os_error("send");
        poller.add(conns[i].fd, i, EPOLLIN | (conns[i].out.empty() ? 0u : EPOLLOUT));
    }
    std::size_t finished = 0;
    auto deadline = Clock::now() + std::chrono::seconds(30);
    epoll_event events[512];
    std::byte buffer[16 * 1024];
    while (finished < conns.size()) {
        if (Clock::now() > deadline)
            throw std::runtime_error("only " + std::to_string(finished) + " of " +
                                     std::to_string(conns.size()) + " connections " + what);
        int n = poller.wait(events, 512, 100);
        for (int e = 0; e < n; ++e) {
            auto i = events[e].data.u32;
            auto& conn = conns[i];
            ssize_t got =
                (events[e].events & EPOLLIN) ? ::recv(conn.fd, buffer, sizeof buffer, 0) : -1;
            if (got == 0 ||
                (got < 0 && errno != EAGAIN && errno != EINTR && (events[e].events & EPOLLIN)))
                throw std::runtime_error(std::string("the server closed a connection before it ") +
                                         what);
            auto frame = [&](std::uint32_t id, Bytes payload) {
                on_frame(i, id, payload);
                return true;
            };
            Bytes chunk{buffer, got > 0 ? static_cast<std::size_t>(got) : 0};
            std::string why = "a bad frame";
            bool keep = conn.layer ? take_layered(conn, chunk, frame, why)
                                   : conn.reader.feed(chunk, frame) == node::FeedStatus::ok;
            if (!keep) throw std::runtime_error("a connection ended: " + why);
            if (!write_some(conn)) throw os_error("send");
            if (done(i)) {
                ++finished;
                poller.remove(conn.fd);
            } else {
                poller.modify(conn.fd, i, EPOLLIN | (conn.out.empty() ? 0u : EPOLLOUT));
            }
        }
    }
}

// Sends `frames[i]` on connection i and waits until each has one answer, which `check(i, msg_id,
// payload)` judges (it throws when the answer is wrong).
template <class Check>
void ask_each(std::vector<Conn>& conns, const std::vector<ByteBuffer>& frames, Check check) {
    for (std::uint32_t i = 0; i < conns.size(); ++i) queue_frames(conns[i], frames[i]);
    std::vector<bool> answered(conns.size(), false);
    exchange(
        conns, "answered",
        [&](std::uint32_t i, std::uint32_t id, Bytes payload) {
            if (answered[i]) return;  // (a push: not ours to judge)
            check(i, id, payload);
            answered[i] = true;
        },
        [&](std::uint32_t i) { return answered[i] && conns[i].out.empty(); });
}

// Gives every connection its layer (WebSocket, TLS or both) and runs the handshakes.
void open_layers(const LoadOptions& options, std::vector<Conn>& conns) {
    std::shared_ptr<node::TlsContext> tls;
    // A load tool measures the server, not the certificate: it verifies nothing.
    if (options.tls) tls = node::TlsContext::client("", options.host);
    std::optional<node::WebSocketClientOptions> websocket;
    if (!options.ws_path.empty()) {
        websocket.emplace();
        websocket->host = options.host + ":" + std::to_string(options.port);
        websocket->path = options.ws_path;
    }
    for (auto& conn : conns) {
        conn.layer = node::make_client_layer(tls, websocket);
        conn.layer->open(conn.out);
    }
    exchange(
        conns, "finished the handshake", [](std::uint32_t, std::uint32_t, Bytes) {},
        [&](std::uint32_t i) { return conns[i].layer->handshake_done() && conns[i].out.empty(); });
    std::printf("dinx-load: %zu %s handshakes done\n", conns.size(), options.transport().c_str());
    std::fflush(stdout);
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
    if (options.tls || !options.ws_path.empty()) open_layers(options, conns);
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
    if (options.tls || !options.ws_path.empty()) open_layers(options, conns);
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
