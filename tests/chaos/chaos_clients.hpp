#pragma once
// The players of the chaos test: client connections that log in (the demo relays for players
// only), then keep numbered echo and relay requests in flight and check that each request gets
// exactly one outcome (its reply or an error frame), each msgID's in the order sent. A connection
// whose gate the chaos kills is cut, not failed: it reconnects to that gate with a fresh numbering
// once the gate listens again.

#include "node/frame_codec.hpp"

#include <sys/epoll.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace dinx::chaos {

/// What the clients saw, summed over all of them.
struct ClientTally {
    std::uint64_t sent = 0;                       ///< requests sent
    std::uint64_t replies = 0;                    ///< replies to a request without an outcome
    std::uint64_t relay_replies = 0;              ///< of which replies to relay requests
    std::map<std::string, std::uint64_t> errors;  ///< error frames by code
    std::uint64_t duplicates = 0;    ///< a reply for a request that already had its outcome
    std::uint64_t out_of_order = 0;  ///< an echo outcome that overtook an earlier echo
    /// A relay outcome that overtook an earlier relay: allowed, since dinx pins a client's
    /// requests to one node, but not what a handler forwards (README, "Order").
    std::uint64_t relays_reordered = 0;
    /// An outcome that overtook an earlier request of the other msgID: allowed, since a relay's
    /// reply comes from another node than the echo's (dinx orders one handler's replies only).
    std::uint64_t overtaken = 0;
    std::uint64_t unexpected = 0;  ///< frames that answer no request we sent on that connection
    std::uint64_t logins = 0;      ///< connections whose login was answered as expected
    std::uint64_t lost = 0;        ///< requests that never had an outcome
    std::uint64_t closed = 0;      ///< connections closed although their gate was not killed
    std::uint64_t cut_connections = 0;     ///< connections closed by the kill of their gate
    std::uint64_t cut = 0;                 ///< requests they had in flight without an outcome
    std::uint64_t reconnects = 0;          ///< connections opened again after a cut
    std::uint64_t reconnect_failures = 0;  ///< clients that could not reconnect in time
    /// Error frames of all codes.
    std::uint64_t error_total() const;
};

/// The msgIDs the clients use.
struct ClientMsgIds {
    std::uint32_t echo = 6;             ///< replied by the node the gate picked
    std::uint32_t relay = 5;            ///< forwarded to another node, which replies
    std::uint32_t login = 1;            ///< sent first on every connection, run by the gate
    std::uint32_t error = 0xFFFF'FFFF;  ///< error frames
};

/// N connections spread over the gates, each keeping `depth` requests in flight, echo and
/// relay alternately.
class ChaosClients {
public:
    /// Connects `count` clients, client i to gate_ports[i % size]; throws when one cannot.
    ChaosClients(const std::vector<std::uint16_t>& gate_ports, int count, int depth,
                 ClientMsgIds msg_ids);
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
    /// True when no request waits for its outcome and no cut connection waits to reconnect.
    bool settled() const;
    /// The tally so far (requests still in flight count as lost).
    ClientTally tally() const;

private:
    using Clock = std::chrono::steady_clock;

    struct Client {
        enum class State { open, connecting, down, failed, closed } state = State::open;
        int fd = -1;
        std::uint16_t port = 0;        // of its gate
        std::uint64_t generation = 0;  // connections opened so far, stamped in payloads
        bool cut_expected = false;     // its gate is being killed: the close is the chaos's
        node::FrameReader reader{1 << 20};
        ByteBuffer out;
        std::uint64_t next_seq = 0;          // of the next request on this connection
        std::vector<std::uint64_t> waiting;  // seqs sent without an outcome, ascending
        // Relays an error frame was counted for. An error names no seq and relays may be
        // answered out of order, so it went to the oldest waiting relay; if that one's reply
        // comes after all, the error was another waiting relay's.
        std::set<std::uint64_t> relays_failed;
        int attempts = 0;              // dials since the connection was cut
        Clock::time_point retry_at{};  // next dial (down) or dial deadline (connecting)
    };
    /// What a request's payload carries, and its reply's payload ends with.
    struct Stamp {
        std::uint64_t seq = 0;
        std::uint64_t index = 0;
        std::uint64_t generation = 0;
    };

    std::uint32_t msg_id_of(std::uint64_t seq) const;
    std::uint64_t index_of(const Client& client) const;
    std::optional<Stamp> stamp_of(std::uint32_t msg_id, Bytes payload) const;
    void on_frame(Client& client, std::uint32_t msg_id, Bytes payload);
    bool on_reply(Client& client, std::uint32_t msg_id, Bytes payload);
    bool on_error_frame(Client& client, Bytes payload);
    void settle(Client& client, std::vector<std::uint64_t>::iterator request);
    /// A reply came for relay `seq`, which an error frame was counted for: that error was
    /// another waiting relay's. False when no relay waits (then the reply is a duplicate).
    bool reassign_error(Client& client, std::uint64_t seq);
    void send_request(Client& client);
    /// Queues and sends the connection's login, ahead of its requests.
    void log_in(Client& client);
    /// The name connection `client` logs in as (unique per connection).
    std::string login_name(const Client& client) const;
    void fill_window(Client& client);
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
    bool sending_ = false;
    ClientTally tally_;
};

}  // namespace dinx::chaos
