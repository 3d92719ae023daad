#pragma once
// The players of the chaos test: client connections that log in (the demo relays for players
// only), then keep numbered requests in flight, echo and relay (answered by the im nodes) mixed
// with sign in, score and leaderboard (run by the gate as coroutine handlers that call the
// account and rank services), and check that each request gets exactly one outcome (its reply
// or an error frame), in order where dinx promises an order. A connection whose gate the chaos
// kills is cut, not failed: it reconnects to that gate with a fresh numbering once the gate
// listens again.

#include "node/frame_codec.hpp"

#include <sys/epoll.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace dinx::chaos {

/// The kinds of request the clients send.
enum class RequestKind { echo, relay, sign_in, score, leaderboard };
inline constexpr std::array<RequestKind, 5> request_kinds{RequestKind::echo, RequestKind::relay,
                                                          RequestKind::sign_in, RequestKind::score,
                                                          RequestKind::leaderboard};
/// "echo", "relay", "sign_in", "score", "leaderboard".
const char* name_of(RequestKind kind);

/// The outcomes of one kind of request, summed over all clients.
struct KindTally {
    std::uint64_t sent = 0;
    std::uint64_t replies = 0;                    ///< replies to a request without an outcome
    std::map<std::string, std::uint64_t> errors;  ///< error frames by code
    std::map<std::string, std::string> examples;  ///< the first error frame's message by code
    std::uint64_t cut = 0;                        ///< in flight when their gate was killed
    std::uint64_t lost = 0;                       ///< never had an outcome
    std::chrono::duration<double> slowest{};      ///< the longest wait for an outcome
    std::uint64_t error_total() const;
};

/// What the clients saw, summed over all of them.
struct ClientTally {
    std::uint64_t sent = 0;                       ///< requests sent
    std::uint64_t replies = 0;                    ///< replies to a request without an outcome
    std::uint64_t relay_replies = 0;              ///< of which replies to relay requests
    std::map<std::string, std::uint64_t> errors;  ///< error frames by code
    std::map<RequestKind, KindTally> kinds;       ///< the same by kind of request
    /// Nodes that leaderboard replies named as failed ("(node 7: unavailable)"), by code.
    std::map<std::string, std::uint64_t> leaderboard_missing;
    std::uint64_t partial_leaderboards = 0;  ///< leaderboard replies that named a failed node
    std::uint64_t duplicates = 0;            ///< a reply for a request that already had its outcome
    /// An outcome that overtook an earlier request of its order: an echo an earlier echo, or a
    /// request the gate runs (sign in, score, leaderboard) an earlier one of those, which wait
    /// behind the client's running coroutine handler.
    std::uint64_t out_of_order = 0;
    /// A relay outcome that overtook an earlier relay: allowed, since dinx pins a client's
    /// requests to one node, but not what a handler forwards (README, "Order").
    std::uint64_t relays_reordered = 0;
    /// An outcome that overtook an earlier request of another order: allowed, since a relay's
    /// reply comes from another node than the echo's, and the gate's handlers run apart from
    /// both (dinx orders one handler's replies only).
    std::uint64_t overtaken = 0;
    std::uint64_t unexpected = 0;  ///< frames that answer no request we sent on that connection
    std::uint64_t logins = 0;      ///< connections whose login was answered as expected
    /// Connections cut before their login was answered (their gate was killed right after).
    std::uint64_t cut_before_login = 0;
    /// Connections not cut whose login was never answered.
    std::uint64_t logins_unanswered = 0;
    std::uint64_t lost = 0;  ///< requests that never had an outcome
    /// Requests still without an outcome `answer_deadline` after they were sent.
    std::uint64_t late = 0;
    std::uint64_t closed = 0;           ///< connections closed although their gate was not killed
    std::uint64_t cut_connections = 0;  ///< connections closed by the kill of their gate
    std::uint64_t cut = 0;              ///< requests they had in flight without an outcome
    std::uint64_t reconnects = 0;       ///< connections opened again after a cut
    std::uint64_t reconnect_failures = 0;  ///< clients that could not reconnect in time
    /// The first anomalies seen (unexpected frames, duplicates, disorder, late and lost
    /// requests), described for the report.
    std::vector<std::string> anomalies;
    /// Error frames of all codes.
    std::uint64_t error_total() const;
};

/// The msgIDs the clients use.
struct ClientMsgIds {
    std::uint32_t echo = 6;             ///< replied by the node the gate picked
    std::uint32_t relay = 5;            ///< forwarded to another node, which replies
    std::uint32_t login = 1;            ///< sent first on every connection, run by the gate
    std::uint32_t sign_in = 14;         ///< the gate calls account, then the player's rank node
    std::uint32_t score = 15;           ///< the gate calls the player's rank node
    std::uint32_t leaderboard = 16;     ///< the gate calls every rank node
    std::uint32_t error = 0xFFFF'FFFF;  ///< error frames
};

/// N connections spread over the gates, each keeping `depth` requests in flight: echo and relay,
/// with a sign in, a score or a leaderboard every third request (scores only once the
/// connection signed in).
class ChaosClients {
public:
    using Clock = std::chrono::steady_clock;

    /// Connects `count` clients, client i to gate_ports[i % size]; throws when one cannot. A
    /// request without an outcome `answer_deadline` after it was sent counts as late.
    ChaosClients(const std::vector<std::uint16_t>& gate_ports, int count, int depth,
                 ClientMsgIds msg_ids, Clock::duration answer_deadline);
    ~ChaosClients();
    ChaosClients(const ChaosClients&) = delete;
    ChaosClients& operator=(const ChaosClients&) = delete;

    /// Fills every connection's window of requests, and the window of each later connection.
    void start();
    /// Handles what arrived within `timeout_ms`, then dials the gates of cut connections that
    /// are due; sends a new request for each outcome unless stopped.
    void poll(int timeout_ms);
    /// The gate listening on `port` is about to be killed: its connections' close is expected.
    void gate_killed(std::uint16_t port);
    /// Sends no more requests; what is in flight still counts, and cut connections reconnect.
    void stop_sending() { sending_ = false; }
    /// True when no request or login waits for its outcome and no cut connection waits to
    /// reconnect.
    bool settled() const;
    /// The tally so far (requests still in flight count as lost).
    ClientTally tally() const;

private:
    struct Request {
        std::uint64_t seq = 0;
        RequestKind kind = RequestKind::echo;
        Clock::time_point sent_at{};
        bool late = false;  // counted late already
    };
    struct Client {
        enum class State { open, connecting, down, failed, closed } state = State::open;
        int fd = -1;
        std::uint16_t port = 0;        // of its gate
        std::uint64_t generation = 0;  // connections opened so far, stamped in payloads
        bool cut_expected = false;     // its gate is being killed: the close is the chaos's
        bool logged_in = false;        // its login was answered
        bool signed_in = false;        // a sign in succeeded on this connection: it may score
        node::FrameReader reader{1 << 20};
        ByteBuffer out;
        std::uint64_t next_seq = 0;    // of the next request on this connection
        std::vector<Request> waiting;  // sent without an outcome, ascending seqs
        // Relays an error frame was counted for. An error names no seq and relays may be
        // answered out of order, so it went to the oldest waiting relay; if that one's reply
        // comes after all, the error was another waiting relay's.
        std::set<std::uint64_t> relays_failed;
        int attempts = 0;              // dials since the connection was cut
        Clock::time_point retry_at{};  // next dial (down) or dial deadline (connecting)
    };
    using Waiting = std::vector<Request>::iterator;
    /// What an echo or relay payload carries, and its reply's payload ends with.
    struct Stamp {
        std::uint64_t seq = 0;
        std::uint64_t index = 0;
        std::uint64_t generation = 0;
    };

    /// The kind of request `seq` of `client` is meant to be (a score before the connection
    /// signed in is sent as a sign in instead).
    RequestKind planned_kind(const Client& client, std::uint64_t seq) const;
    std::uint32_t msg_id_of(RequestKind kind) const;
    std::optional<RequestKind> kind_of(std::uint32_t msg_id) const;
    std::uint64_t index_of(const Client& client) const;
    /// The uid the client signs in as: the same on every connection of it.
    std::string uid_of(const Client& client) const;
    std::optional<Stamp> stamp_of(RequestKind kind, Bytes payload) const;
    void on_frame(Client& client, std::uint32_t msg_id, Bytes payload);
    bool on_reply(Client& client, RequestKind kind, Bytes payload);
    bool on_stamped_reply(Client& client, RequestKind kind, Bytes payload);
    bool on_score_reply(Client& client, Bytes payload);
    bool on_leaderboard_reply(Client& client, Bytes payload);
    bool on_error_frame(Client& client, Bytes payload);
    /// The oldest waiting request of `kind`, or waiting.end().
    Waiting oldest(Client& client, RequestKind kind);
    void settle(Client& client, Waiting request);
    /// A reply came for relay `seq`, which an error frame was counted for: that error was
    /// another waiting relay's. False when no relay waits (then the reply is a duplicate).
    bool reassign_error(Client& client, std::uint64_t seq);
    void send_request(Client& client);
    /// Queues and sends the connection's login, ahead of its requests.
    void log_in(Client& client);
    /// The name connection `client` logs in as (unique per connection).
    std::string login_name(const Client& client) const;
    void fill_window(Client& client);
    /// Counts the requests that have waited past the deadline.
    void check_deadlines(Clock::time_point now);
    void note(const Client& client, const std::string& what);
    void read(Client& client);
    void flush(Client& client);
    void lose_connection(Client& client);
    void dial(Client& client, Clock::time_point now);
    void finish_dial(Client& client);
    void open(Client& client);
    void redial_later(Client& client, Clock::time_point now);
    void dial_due(Clock::time_point now);
    void watch(Client& client, std::uint32_t events, int operation);
    void drop_fd(Client& client);

    std::vector<Client> clients_;
    int epoll_fd_;
    int depth_;
    ClientMsgIds msg_ids_;
    Clock::duration answer_deadline_;
    Clock::time_point next_deadline_check_{};
    bool sending_ = false;
    ClientTally tally_;
};

}  // namespace dinx::chaos
