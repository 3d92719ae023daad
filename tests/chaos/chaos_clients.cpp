#include "tests/chaos/chaos_clients.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <stdexcept>

namespace dinx::chaos {
namespace {

using namespace std::chrono_literals;

constexpr std::size_t payload_size = 24;  // seq, client index, connection generation
// A killed gate is restarted within 1.5 s and listens soon after (later under sanitizers):
// 150 dials 100 ms apart outlast that with a wide margin, and still end.
constexpr int max_dials = 150;
constexpr auto redial_delay = 100ms;
// A dial that neither succeeds nor fails in this time (a full backlog) is tried again.
constexpr auto dial_timeout = 1s;

sockaddr_in loopback(std::uint16_t port) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return address;
}

void set_nodelay(int fd) {
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

int connect_to(std::uint16_t port) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    auto address = loopback(port);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
        auto why = std::string(std::strerror(errno));
        ::close(fd);
        throw std::runtime_error("cannot connect to a gate on port " + std::to_string(port) + ": " +
                                 why);
    }
    set_nodelay(fd);
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

// The gate ports are ephemeral ports: while a gate is down, a dial to its port can pick that
// very port as its source and connect to itself (TCP simultaneous open), which would also keep
// the restarted gate from binding it.
bool connected_to_itself(int fd) {
    sockaddr_in self{}, peer{};
    socklen_t self_size = sizeof self, peer_size = sizeof peer;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&self), &self_size) != 0 ||
        ::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &peer_size) != 0)
        return true;  // not connected after all: try again
    return self.sin_port == peer.sin_port;
}

// The text after `"key": ` in an error frame's JSON payload:
// {"msg_id": N, "code": "...", "message": "..."}.
std::string_view json_value(std::string_view text, std::string_view key) {
    auto quoted = "\"" + std::string(key) + "\": ";
    auto at = text.find(quoted);
    return at == std::string_view::npos ? std::string_view{} : text.substr(at + quoted.size());
}

std::string error_code_of(std::string_view text) {
    auto value = json_value(text, "code");
    if (value.empty() || value.front() != '"') return "malformed";
    auto end = value.find('"', 1);
    return std::string(value.substr(1, end == std::string_view::npos ? 0 : end - 1));
}

std::optional<std::uint32_t> error_msg_id_of(std::string_view text) {
    auto value = json_value(text, "msg_id");
    std::uint32_t msg_id = 0;
    auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), msg_id);
    if (error != std::errc{} || end == value.data()) return std::nullopt;
    return msg_id;
}

}  // namespace

std::uint64_t ClientTally::error_total() const {
    std::uint64_t total = 0;
    for (const auto& [code, count] : errors) total += count;
    return total;
}

ChaosClients::ChaosClients(const std::vector<std::uint16_t>& gate_ports, int count, int depth,
                           ClientMsgIds msg_ids)
    : clients_(static_cast<std::size_t>(count)),
      epoll_fd_(::epoll_create1(EPOLL_CLOEXEC)),
      depth_(depth),
      msg_ids_(msg_ids) {
    for (std::size_t i = 0; i < clients_.size(); ++i) {
        auto& client = clients_[i];
        client.port = gate_ports[i % gate_ports.size()];
        client.fd = connect_to(client.port);
        watch(client, EPOLLIN | EPOLLRDHUP, EPOLL_CTL_ADD);
        log_in(client);
    }
}

ChaosClients::~ChaosClients() {
    for (auto& client : clients_)
        if (client.fd >= 0) ::close(client.fd);
    ::close(epoll_fd_);
}

void ChaosClients::start() {
    sending_ = true;
    for (auto& client : clients_)
        if (client.state == Client::State::open) fill_window(client);
}

void ChaosClients::poll(int timeout_ms) {
    using State = Client::State;
    epoll_event events[256];
    int n = ::epoll_wait(epoll_fd_, events, 256, timeout_ms);
    for (int i = 0; i < n; ++i) {
        auto& client = clients_[events[i].data.u64];
        if (client.state == State::connecting) {
            finish_dial(client);
        } else if (client.state == State::open) {
            read(client);
            if (client.state == State::open) flush(client);
        }
    }
    dial_due(Clock::now());
}

void ChaosClients::gate_killed(std::uint16_t port) {
    using State = Client::State;
    for (auto& client : clients_)
        if (client.port == port &&
            (client.state == State::open || client.state == State::connecting))
            client.cut_expected = true;
}

// ---- requests and outcomes

// Even seqs are echoes, odd ones relays: every client has both kinds in flight at once.
std::uint32_t ChaosClients::msg_id_of(std::uint64_t seq) const {
    return seq % 2 == 0 ? msg_ids_.echo : msg_ids_.relay;
}

std::uint64_t ChaosClients::index_of(const Client& client) const {
    return static_cast<std::uint64_t>(&client - clients_.data());
}

void ChaosClients::send_request(Client& client) {
    Stamp stamp{client.next_seq++, index_of(client), client.generation};
    std::byte payload[payload_size];
    std::memcpy(payload, &stamp.seq, 8);
    std::memcpy(payload + 8, &stamp.index, 8);
    std::memcpy(payload + 16, &stamp.generation, 8);
    node::append_frame(client.out, msg_id_of(stamp.seq), Bytes{payload, payload_size});
    client.waiting.push_back(stamp.seq);
    ++tally_.sent;
}

// Each connection has a name of its own, so no login ever meets another session of its uid.
std::string ChaosClients::login_name(const Client& client) const {
    return "chaos-" + std::to_string(index_of(client)) + "-" + std::to_string(client.generation);
}

// Not awaited: the gate runs the login before it reads the requests queued behind it.
void ChaosClients::log_in(Client& client) {
    node::append_frame(client.out, msg_ids_.login, as_bytes(login_name(client)));
    flush(client);
}

void ChaosClients::fill_window(Client& client) {
    while (client.waiting.size() < static_cast<std::size_t>(depth_)) send_request(client);
    flush(client);
}

// An echo reply is the request's payload; a relay reply is "<node> via <node>: " followed by
// it. Anything else answers no request of ours.
std::optional<ChaosClients::Stamp> ChaosClients::stamp_of(std::uint32_t msg_id,
                                                          Bytes payload) const {
    if (msg_id == msg_ids_.relay) {
        auto text = as_text(payload);
        if (text.size() <= payload_size) return std::nullopt;
        auto prefix = text.substr(0, text.size() - payload_size);
        if (prefix.find(" via ") == std::string_view::npos || !prefix.ends_with(": "))
            return std::nullopt;
        payload = payload.subspan(prefix.size());
    } else if (msg_id != msg_ids_.echo || payload.size() != payload_size) {
        return std::nullopt;
    }
    Stamp stamp;
    std::memcpy(&stamp.seq, payload.data(), 8);
    std::memcpy(&stamp.index, payload.data() + 8, 8);
    std::memcpy(&stamp.generation, payload.data() + 16, 8);
    return stamp;
}

void ChaosClients::on_frame(Client& client, std::uint32_t msg_id, Bytes payload) {
    if (msg_id == msg_ids_.login) {
        bool welcomed = as_text(payload) == "welcome " + login_name(client);
        ++(welcomed ? tally_.logins : tally_.unexpected);
        return;
    }
    bool outcome = msg_id == msg_ids_.error ? on_error_frame(client, payload)
                                            : on_reply(client, msg_id, payload);
    if (outcome && sending_) send_request(client);
}

// A reply names its request: it is a duplicate when that request already had its outcome.
// One stamped for another client or an earlier connection of this one was misdelivered.
bool ChaosClients::on_reply(Client& client, std::uint32_t msg_id, Bytes payload) {
    auto stamp = stamp_of(msg_id, payload);
    if (!stamp || stamp->index != index_of(client) || stamp->generation != client.generation ||
        stamp->seq >= client.next_seq || msg_id != msg_id_of(stamp->seq)) {
        ++tally_.unexpected;
        return false;
    }
    auto request = std::find(client.waiting.begin(), client.waiting.end(), stamp->seq);
    if (request == client.waiting.end()) {
        if (msg_id == msg_ids_.relay && reassign_error(client, stamp->seq)) {
            ++tally_.replies;
            ++tally_.relay_replies;
            return true;
        }
        ++tally_.duplicates;
        return false;
    }
    ++tally_.replies;
    if (msg_id == msg_ids_.relay) ++tally_.relay_replies;
    settle(client, request);
    return true;
}

bool ChaosClients::reassign_error(Client& client, std::uint64_t seq) {
    if (client.relays_failed.erase(seq) == 0) return false;  // it had its reply already
    auto other = std::find_if(client.waiting.begin(), client.waiting.end(),
                              [&](std::uint64_t s) { return msg_id_of(s) == msg_ids_.relay; });
    if (other == client.waiting.end()) {
        client.relays_failed.insert(seq);  // one error and one reply for `seq`: a duplicate
        return false;
    }
    client.relays_failed.insert(*other);
    settle(client, other);
    return true;
}

// An error frame carries no seq, only the request's msgID: it is counted as the outcome of the
// oldest request of that msgID without one. Echoes come back in order (a client's requests are
// pinned to one node), so for them that is exact; relays may be reordered, and a reply for a
// relay counted failed moves its error to another waiting relay (reassign_error).
bool ChaosClients::on_error_frame(Client& client, Bytes payload) {
    auto text = as_text(payload);
    auto msg_id = error_msg_id_of(text);
    auto request = std::find_if(client.waiting.begin(), client.waiting.end(),
                                [&](std::uint64_t seq) { return msg_id == msg_id_of(seq); });
    if (request == client.waiting.end()) {
        ++tally_.unexpected;
        return false;
    }
    ++tally_.errors[error_code_of(text)];
    if (msg_id_of(*request) == msg_ids_.relay) client.relays_failed.insert(*request);
    settle(client, request);
    return true;
}

// Records the outcome of `request`, and whether it overtook an older request.
void ChaosClients::settle(Client& client, std::vector<std::uint64_t>::iterator request) {
    auto msg_id = msg_id_of(*request);
    bool same = std::any_of(client.waiting.begin(), request,
                            [&](std::uint64_t seq) { return msg_id_of(seq) == msg_id; });
    if (same && msg_id == msg_ids_.relay)
        ++tally_.relays_reordered;
    else if (same)
        ++tally_.out_of_order;
    else if (request != client.waiting.begin())
        ++tally_.overtaken;
    client.waiting.erase(request);
}

bool ChaosClients::settled() const {
    using State = Client::State;
    return std::all_of(clients_.begin(), clients_.end(), [](const Client& client) {
        return client.waiting.empty() &&
               (client.state != State::down && client.state != State::connecting);
    });
}

ClientTally ChaosClients::tally() const {
    using State = Client::State;
    ClientTally tally = tally_;
    for (const auto& client : clients_) {
        tally.lost += client.waiting.size();
        if (client.state == State::down || client.state == State::connecting)
            ++tally.reconnect_failures;
    }
    return tally;
}

// ---- the connection

void ChaosClients::read(Client& client) {
    std::byte buffer[64 * 1024];
    while (client.state == Client::State::open) {
        ssize_t got = ::recv(client.fd, buffer, sizeof buffer, 0);
        if (got < 0 && (errno == EAGAIN || errno == EINTR)) return;
        if (got <= 0) {
            lose_connection(client);
            return;
        }
        auto status = client.reader.feed(Bytes{buffer, static_cast<std::size_t>(got)},
                                         [&](std::uint32_t id, Bytes payload) {
                                             on_frame(client, id, payload);
                                             return true;
                                         });
        if (status != node::FeedStatus::ok) {
            ++tally_.unexpected;  // a frame no gate would send
            lose_connection(client);
        }
    }
}

void ChaosClients::flush(Client& client) {
    while (!client.out.empty()) {
        ssize_t sent = ::send(client.fd, client.out.data(), client.out.size(), MSG_NOSIGNAL);
        if (sent < 0) {
            if (errno != EAGAIN && errno != EINTR) lose_connection(client);
            return;  // the gate will read; we retry on the next wake-up
        }
        client.out.erase(client.out.begin(), client.out.begin() + sent);
    }
}

// A close the chaos announced cuts the requests in flight (their outcome is unknowable) and
// the client dials its gate again; any other close is a failure that loses them.
void ChaosClients::lose_connection(Client& client) {
    drop_fd(client);
    if (client.cut_expected) {
        ++tally_.cut_connections;
        tally_.cut += client.waiting.size();
        client.waiting.clear();
        client.attempts = 0;
        redial_later(client, Clock::now());
    } else {
        ++tally_.closed;
        tally_.lost += client.waiting.size();
        client.waiting.clear();
        client.state = Client::State::closed;
    }
}

// ---- reconnection: non-blocking dials, so the poll loop never waits for a gate

void ChaosClients::dial_due(Clock::time_point now) {
    using State = Client::State;
    for (auto& client : clients_) {
        if (client.retry_at > now) continue;
        if (client.state == State::connecting) {
            drop_fd(client);  // the dial timed out
            redial_later(client, now);
        } else if (client.state == State::down) {
            dial(client, now);
        }
    }
}

void ChaosClients::dial(Client& client, Clock::time_point now) {
    if (client.attempts++ >= max_dials) {
        client.state = Client::State::failed;
        ++tally_.reconnect_failures;
        return;
    }
    client.cut_expected = false;  // a new connection, to a new process of the gate
    client.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    auto address = loopback(client.port);
    if (::connect(client.fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0) {
        finish_dial(client);
    } else if (errno == EINPROGRESS) {
        client.state = Client::State::connecting;
        client.retry_at = now + dial_timeout;
        watch(client, EPOLLOUT, EPOLL_CTL_ADD);
    } else {
        ::close(client.fd);
        client.fd = -1;
        redial_later(client, now);  // refused: the gate does not listen yet
    }
}

void ChaosClients::finish_dial(Client& client) {
    bool registered = client.state == Client::State::connecting;
    int error = 0;
    socklen_t size = sizeof error;
    ::getsockopt(client.fd, SOL_SOCKET, SO_ERROR, &error, &size);
    if (error == 0 && !connected_to_itself(client.fd)) {
        watch(client, EPOLLIN | EPOLLRDHUP, registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD);
        open(client);
        return;
    }
    if (registered) ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, client.fd, nullptr);
    ::close(client.fd);
    client.fd = -1;
    redial_later(client, Clock::now());
}

// A fresh connection starts a fresh numbering; the generation tells its replies from late
// ones meant for an earlier connection.
void ChaosClients::open(Client& client) {
    set_nodelay(client.fd);
    client.state = Client::State::open;
    ++client.generation;
    client.next_seq = 0;
    client.relays_failed.clear();
    client.reader = node::FrameReader{1 << 20};
    client.out.clear();
    ++tally_.reconnects;
    log_in(client);
    if (sending_) fill_window(client);
}

void ChaosClients::redial_later(Client& client, Clock::time_point now) {
    client.state = Client::State::down;
    client.retry_at = now + redial_delay;
}

void ChaosClients::watch(Client& client, std::uint32_t events, int operation) {
    epoll_event event{};
    event.events = events;
    event.data.u64 = index_of(client);
    ::epoll_ctl(epoll_fd_, operation, client.fd, &event);
}

void ChaosClients::drop_fd(Client& client) {
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, client.fd, nullptr);
    ::close(client.fd);
    client.fd = -1;
}

}  // namespace dinx::chaos
