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

std::string error_message_of(std::string_view text) {
    auto value = json_value(text, "message");
    if (value.empty() || value.front() != '"') return std::string(text);
    auto end = value.rfind('"');
    return std::string(value.substr(1, end == 0 ? std::string_view::npos : end - 1));
}

std::optional<std::uint32_t> error_msg_id_of(std::string_view text) {
    auto value = json_value(text, "msg_id");
    std::uint32_t msg_id = 0;
    auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), msg_id);
    if (error != std::errc{} || end == value.data()) return std::nullopt;
    return msg_id;
}

}  // namespace

namespace {

std::uint64_t sum_of(const std::map<std::string, std::uint64_t>& counts) {
    std::uint64_t total = 0;
    for (const auto& [code, count] : counts) total += count;
    return total;
}

// Which requests dinx answers in the order sent: a client's echoes (pinned to one im node), and
// what its gate runs (sign in, score, leaderboard: coroutine handlers, each waiting for the one
// before). Relays are forwarded by a handler, which nothing pins.
enum class Order { echoes, gate, relays };

Order order_of(RequestKind kind) {
    switch (kind) {
        case RequestKind::echo:
            return Order::echoes;
        case RequestKind::relay:
            return Order::relays;
        default:
            return Order::gate;
    }
}

// Two thirds of the requests echo or relay, as before the services; one in three calls them.
// Each client starts at another place of the cycle.
constexpr std::array<RequestKind, 12> cycle{
    RequestKind::echo,        RequestKind::relay, RequestKind::sign_in, RequestKind::echo,
    RequestKind::relay,       RequestKind::score, RequestKind::echo,    RequestKind::relay,
    RequestKind::leaderboard, RequestKind::echo,  RequestKind::relay,   RequestKind::score};

constexpr std::size_t max_anomalies = 20;

}  // namespace

const char* name_of(RequestKind kind) {
    switch (kind) {
        case RequestKind::echo:
            return "echo";
        case RequestKind::relay:
            return "relay";
        case RequestKind::sign_in:
            return "sign_in";
        case RequestKind::score:
            return "score";
        case RequestKind::leaderboard:
            return "leaderboard";
    }
    return "?";
}

std::uint64_t KindTally::error_total() const {
    return sum_of(errors);
}

std::uint64_t ClientTally::error_total() const {
    return sum_of(errors);
}

ChaosClients::ChaosClients(const std::vector<std::uint16_t>& gate_ports, int count, int depth,
                           ClientMsgIds msg_ids, Clock::duration answer_deadline)
    : clients_(static_cast<std::size_t>(count)),
      epoll_fd_(::epoll_create1(EPOLL_CLOEXEC)),
      depth_(depth),
      msg_ids_(msg_ids),
      answer_deadline_(answer_deadline) {
    for (auto kind : request_kinds) tally_.kinds[kind];  // every kind reported, even unsent
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
    auto now = Clock::now();
    dial_due(now);
    check_deadlines(now);
}

void ChaosClients::gate_killed(std::uint16_t port) {
    using State = Client::State;
    for (auto& client : clients_)
        if (client.port == port &&
            (client.state == State::open || client.state == State::connecting))
            client.cut_expected = true;
}

// ---- requests and outcomes

RequestKind ChaosClients::planned_kind(const Client& client, std::uint64_t seq) const {
    return cycle[(seq + index_of(client)) % cycle.size()];
}

std::uint32_t ChaosClients::msg_id_of(RequestKind kind) const {
    switch (kind) {
        case RequestKind::echo:
            return msg_ids_.echo;
        case RequestKind::relay:
            return msg_ids_.relay;
        case RequestKind::sign_in:
            return msg_ids_.sign_in;
        case RequestKind::score:
            return msg_ids_.score;
        case RequestKind::leaderboard:
            return msg_ids_.leaderboard;
    }
    return 0;
}

std::optional<RequestKind> ChaosClients::kind_of(std::uint32_t msg_id) const {
    for (auto kind : request_kinds)
        if (msg_id_of(kind) == msg_id) return kind;
    return std::nullopt;
}

std::uint64_t ChaosClients::index_of(const Client& client) const {
    return static_cast<std::uint64_t>(&client - clients_.data());
}

std::string ChaosClients::uid_of(const Client& client) const {
    return "c" + std::to_string(index_of(client));
}

// Echoes and relays carry a stamp their replies give back; a score carries its seq as its
// points, which its reply names; a sign in carries the client's uid; a leaderboard nothing.
void ChaosClients::send_request(Client& client) {
    auto seq = client.next_seq++;
    auto kind = planned_kind(client, seq);
    if (kind == RequestKind::score && !client.signed_in) kind = RequestKind::sign_in;
    auto msg_id = msg_id_of(kind);
    if (kind == RequestKind::echo || kind == RequestKind::relay) {
        Stamp stamp{seq, index_of(client), client.generation};
        std::byte payload[payload_size];
        std::memcpy(payload, &stamp.seq, 8);
        std::memcpy(payload + 8, &stamp.index, 8);
        std::memcpy(payload + 16, &stamp.generation, 8);
        node::append_frame(client.out, msg_id, Bytes{payload, payload_size});
    } else if (kind == RequestKind::sign_in) {
        node::append_frame(client.out, msg_id, as_bytes(uid_of(client)));
    } else if (kind == RequestKind::score) {
        node::append_frame(client.out, msg_id, as_bytes(std::to_string(seq)));
    } else {
        node::append_frame(client.out, msg_id, Bytes{});
    }
    client.waiting.push_back(Request{seq, kind, Clock::now()});
    ++tally_.sent;
    ++tally_.kinds[kind].sent;
}

// Each connection has a name of its own, so no login ever meets another session of its uid.
// (Its sign ins then bind the client's uid, the same on each of its connections: the gate
// kicks an older session of it, which died with its gate.)
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
std::optional<ChaosClients::Stamp> ChaosClients::stamp_of(RequestKind kind, Bytes payload) const {
    if (kind == RequestKind::relay) {
        auto text = as_text(payload);
        if (text.size() <= payload_size) return std::nullopt;
        auto prefix = text.substr(0, text.size() - payload_size);
        if (prefix.find(" via ") == std::string_view::npos || !prefix.ends_with(": "))
            return std::nullopt;
        payload = payload.subspan(prefix.size());
    } else if (kind != RequestKind::echo || payload.size() != payload_size) {
        return std::nullopt;
    }
    Stamp stamp;
    std::memcpy(&stamp.seq, payload.data(), 8);
    std::memcpy(&stamp.index, payload.data() + 8, 8);
    std::memcpy(&stamp.generation, payload.data() + 16, 8);
    return stamp;
}

void ChaosClients::note(const Client& client, const std::string& what) {
    if (tally_.anomalies.size() >= max_anomalies) return;
    tally_.anomalies.push_back("client " + std::to_string(index_of(client)) + " (port " +
                               std::to_string(client.port) + ", connection " +
                               std::to_string(client.generation) + "): " + what);
}

void ChaosClients::on_frame(Client& client, std::uint32_t msg_id, Bytes payload) {
    if (msg_id == msg_ids_.login) {
        bool welcomed = !client.logged_in && as_text(payload) == "welcome " + login_name(client);
        ++(welcomed ? tally_.logins : tally_.unexpected);
        client.logged_in = true;
        if (!welcomed) note(client, "login answered \"" + std::string(as_text(payload)) + "\"");
        return;
    }
    bool outcome = false;
    if (msg_id == msg_ids_.error) {
        outcome = on_error_frame(client, payload);
    } else if (auto kind = kind_of(msg_id)) {
        outcome = on_reply(client, *kind, payload);
    } else {
        ++tally_.unexpected;
        note(client, "a frame of msgID " + std::to_string(msg_id) + ": \"" +
                         std::string(as_text(payload).substr(0, 200)) + "\"");
    }
    if (outcome && sending_) send_request(client);
}

bool ChaosClients::on_reply(Client& client, RequestKind kind, Bytes payload) {
    switch (kind) {
        case RequestKind::echo:
        case RequestKind::relay:
            return on_stamped_reply(client, kind, payload);
        case RequestKind::score:
            return on_score_reply(client, payload);
        case RequestKind::leaderboard:
            return on_leaderboard_reply(client, payload);
        case RequestKind::sign_in:
            break;
    }
    // "welcome <uid>: level L, visit V, rank R of N". It names no request: sign ins are
    // answered in the order sent, so it is the oldest waiting one's.
    auto text = as_text(payload);
    if (!text.starts_with("welcome " + uid_of(client) + ": level ") ||
        text.find(", visit ") == std::string_view::npos ||
        text.find(", rank ") == std::string_view::npos) {
        ++tally_.unexpected;
        note(client, "sign in answered \"" + std::string(text.substr(0, 200)) + "\"");
        return false;
    }
    auto request = oldest(client, RequestKind::sign_in);
    if (request == client.waiting.end()) {
        ++tally_.duplicates;
        note(client, "a sign in reply with no sign in waiting: \"" + std::string(text) + "\"");
        return false;
    }
    ++tally_.replies;
    ++tally_.kinds[RequestKind::sign_in].replies;
    client.signed_in = true;
    settle(client, request);
    return true;
}

// A reply names its request: it is a duplicate when that request already had its outcome.
// One stamped for another client or an earlier connection of this one was misdelivered.
bool ChaosClients::on_stamped_reply(Client& client, RequestKind kind, Bytes payload) {
    auto stamp = stamp_of(kind, payload);
    if (!stamp || stamp->index != index_of(client) || stamp->generation != client.generation ||
        stamp->seq >= client.next_seq || planned_kind(client, stamp->seq) != kind) {
        ++tally_.unexpected;
        note(client, std::string(name_of(kind)) + " reply that is no request's of ours" +
                         (stamp ? " (seq " + std::to_string(stamp->seq) + ", client " +
                                      std::to_string(stamp->index) + ", connection " +
                                      std::to_string(stamp->generation) + ")"
                                : std::string()));
        return false;
    }
    auto request = std::find_if(client.waiting.begin(), client.waiting.end(),
                                [&](const Request& r) { return r.seq == stamp->seq; });
    if (request == client.waiting.end()) {
        if (kind == RequestKind::relay && reassign_error(client, stamp->seq)) {
            ++tally_.replies;
            ++tally_.relay_replies;
            ++tally_.kinds[kind].replies;
            return true;
        }
        ++tally_.duplicates;
        note(client,
             std::string(name_of(kind)) + " " + std::to_string(stamp->seq) + " answered twice");
        return false;
    }
    ++tally_.replies;
    if (kind == RequestKind::relay) ++tally_.relay_replies;
    ++tally_.kinds[kind].replies;
    settle(client, request);
    return true;
}

// "<uid> +<points>: score S, rank R of N on rank-K", the points being the request's seq.
bool ChaosClients::on_score_reply(Client& client, Bytes payload) {
    auto text = as_text(payload);
    auto head = uid_of(client) + " +";
    std::uint64_t seq = 0;
    std::string_view rest;
    if (text.starts_with(head)) {
        const char* digits = text.data() + head.size();
        auto [end, error] = std::from_chars(digits, text.data() + text.size(), seq);
        if (error == std::errc{} && end != digits)
            rest = text.substr(static_cast<std::size_t>(end - text.data()));
    }
    if (!rest.starts_with(": score ") || rest.find(" on rank-") == std::string_view::npos ||
        seq >= client.next_seq) {
        ++tally_.unexpected;
        note(client, "score answered \"" + std::string(text.substr(0, 200)) + "\"");
        return false;
    }
    auto request = std::find_if(client.waiting.begin(), client.waiting.end(),
                                [&](const Request& r) { return r.seq == seq; });
    if (request == client.waiting.end() || request->kind != RequestKind::score) {
        ++tally_.duplicates;
        note(client,
             "score " + std::to_string(seq) + " answered twice: \"" + std::string(text) + "\"");
        return false;
    }
    ++tally_.replies;
    ++tally_.kinds[RequestKind::score].replies;
    settle(client, request);
    return true;
}

// "top: <uid> <score>, ..." or "top: nobody yet", then " (node N: <code>)" for each rank node
// whose call failed. It names no request: leaderboards are answered in the order sent.
bool ChaosClients::on_leaderboard_reply(Client& client, Bytes payload) {
    auto text = as_text(payload);
    if (!text.starts_with("top: ")) {
        ++tally_.unexpected;
        note(client, "leaderboard answered \"" + std::string(text.substr(0, 200)) + "\"");
        return false;
    }
    auto request = oldest(client, RequestKind::leaderboard);
    if (request == client.waiting.end()) {
        ++tally_.duplicates;
        note(client,
             "a leaderboard reply with no leaderboard waiting: \"" + std::string(text) + "\"");
        return false;
    }
    bool partial = false;
    for (auto at = text.find(" (node "); at != std::string_view::npos;
         at = text.find(" (node ", at + 1)) {
        auto colon = text.find(": ", at);
        auto close = text.find(')', at);
        if (colon == std::string_view::npos || close == std::string_view::npos || close < colon)
            break;
        ++tally_.leaderboard_missing[std::string(text.substr(colon + 2, close - colon - 2))];
        partial = true;
    }
    if (partial) ++tally_.partial_leaderboards;
    ++tally_.replies;
    ++tally_.kinds[RequestKind::leaderboard].replies;
    settle(client, request);
    return true;
}

ChaosClients::Waiting ChaosClients::oldest(Client& client, RequestKind kind) {
    return std::find_if(client.waiting.begin(), client.waiting.end(),
                        [&](const Request& r) { return r.kind == kind; });
}

bool ChaosClients::reassign_error(Client& client, std::uint64_t seq) {
    if (client.relays_failed.erase(seq) == 0) return false;  // it had its reply already
    auto other = oldest(client, RequestKind::relay);
    if (other == client.waiting.end()) {
        client.relays_failed.insert(seq);  // one error and one reply for `seq`: a duplicate
        return false;
    }
    // The error moves from `seq` to `other`, both relays: the counts stay as they are.
    client.relays_failed.insert(other->seq);
    settle(client, other);
    return true;
}

// An error frame carries no seq, only the request's msgID: it is counted as the outcome of the
// oldest request of that msgID without one. Echoes come back in order (a client's requests are
// pinned to one node), and so do the requests its gate runs, so for them that is exact; relays
// may be reordered, and a reply for a relay counted failed moves its error to another waiting
// relay (reassign_error).
bool ChaosClients::on_error_frame(Client& client, Bytes payload) {
    auto text = as_text(payload);
    auto msg_id = error_msg_id_of(text);
    auto kind = msg_id ? kind_of(*msg_id) : std::nullopt;
    auto request = kind ? oldest(client, *kind) : client.waiting.end();
    if (request == client.waiting.end()) {
        ++tally_.unexpected;
        note(client,
             "an error frame about no waiting request: " + std::string(text.substr(0, 300)));
        return false;
    }
    auto code = error_code_of(text);
    ++tally_.errors[code];
    auto& counts = tally_.kinds[*kind];
    if (++counts.errors[code] == 1) counts.examples[code] = error_message_of(text);
    if (*kind == RequestKind::relay) client.relays_failed.insert(request->seq);
    settle(client, request);
    return true;
}

// Records the outcome of `request`, and whether it overtook an older request.
void ChaosClients::settle(Client& client, Waiting request) {
    auto order = order_of(request->kind);
    auto same = std::find_if(client.waiting.begin(), request,
                             [&](const Request& r) { return order_of(r.kind) == order; });
    if (same != request && order == Order::relays) {
        ++tally_.relays_reordered;
    } else if (same != request) {
        ++tally_.out_of_order;
        note(client, std::string(name_of(request->kind)) + " " + std::to_string(request->seq) +
                         " answered before " + name_of(same->kind) + " " +
                         std::to_string(same->seq));
    } else if (request != client.waiting.begin()) {
        ++tally_.overtaken;
    }
    auto& kind = tally_.kinds[request->kind];
    kind.slowest =
        std::max<std::chrono::duration<double>>(kind.slowest, Clock::now() - request->sent_at);
    client.waiting.erase(request);
}

void ChaosClients::check_deadlines(Clock::time_point now) {
    if (now < next_deadline_check_) return;
    next_deadline_check_ = now + 100ms;
    for (auto& client : clients_)
        for (auto& request : client.waiting)
            if (!request.late && now - request.sent_at > answer_deadline_) {
                request.late = true;
                ++tally_.late;
                note(client,
                     std::string(name_of(request.kind)) + " " + std::to_string(request.seq) +
                         " has no outcome after " +
                         std::to_string(std::chrono::duration<double>(answer_deadline_).count()) +
                         " s");
            }
}

bool ChaosClients::settled() const {
    using State = Client::State;
    return std::all_of(clients_.begin(), clients_.end(), [](const Client& client) {
        return client.waiting.empty() &&
               (client.state != State::down && client.state != State::connecting) &&
               (client.state != State::open || client.logged_in);
    });
}

ClientTally ChaosClients::tally() const {
    using State = Client::State;
    ClientTally tally = tally_;
    for (const auto& client : clients_) {
        tally.lost += client.waiting.size();
        for (const auto& request : client.waiting) {
            ++tally.kinds[request.kind].lost;
            if (tally.anomalies.size() < max_anomalies)
                tally.anomalies.push_back("client " + std::to_string(index_of(client)) + " (port " +
                                          std::to_string(client.port) + ", connection " +
                                          std::to_string(client.generation) +
                                          "): " + name_of(request.kind) + " " +
                                          std::to_string(request.seq) + " never had an outcome");
        }
        if (client.state == State::down || client.state == State::connecting)
            ++tally.reconnect_failures;
        if (client.state == State::open && !client.logged_in) {
            ++tally.logins_unanswered;
            if (tally.anomalies.size() < max_anomalies)
                tally.anomalies.push_back("client " + std::to_string(index_of(client)) + " (port " +
                                          std::to_string(client.port) + ", connection " +
                                          std::to_string(client.generation) +
                                          "): its login was never answered");
        }
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
            note(client, "a malformed frame");
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
        if (!client.logged_in) ++tally_.cut_before_login;
        tally_.cut += client.waiting.size();
        for (const auto& request : client.waiting) ++tally_.kinds[request.kind].cut;
        client.waiting.clear();
        client.attempts = 0;
        redial_later(client, Clock::now());
    } else {
        ++tally_.closed;
        note(client, "closed by its gate, which was not killed, with " +
                         std::to_string(client.waiting.size()) + " requests in flight");
        tally_.lost += client.waiting.size();
        for (const auto& request : client.waiting) ++tally_.kinds[request.kind].lost;
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
    client.logged_in = false;
    client.signed_in = false;  // a new session: its uid is the login's until it signs in
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
