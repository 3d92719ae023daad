#pragma once
// The gate-side state of one player connection: its id, the uid bound to it, where its requests
// are pinned, and how many of its requests are in flight (too many pause reading from it).

#include "cluster/envelope.hpp"
#include "cluster/route_pin.hpp"
#include "node/connection.hpp"

#include <chrono>
#include <string_view>
#include <vector>

namespace dinx::cluster {

class NodeShard;

/// A client connection on a frontend. Its frames are client messages, never envelopes.
class ClientSession final : public node::Connection {
public:
    using Clock = std::chrono::steady_clock;

    /// A connected client socket with the id the gate gave it, accepted at `accepted_at`.
    ClientSession(NodeShard& shard, node::Socket socket, node::ConnectionLimits limits,
                  std::uint64_t conn_id, Clock::time_point accepted_at);
    ~ClientSession() override;

    /// Unique within this gate for the life of the process.
    std::uint64_t conn_id() const { return conn_id_; }
    /// The bound user id; empty while not logged in.
    const std::string& uid() const { return uid_; }
    /// Binds (or with an empty string unbinds) the user id.
    void set_uid(std::string uid) { uid_ = std::move(uid); }
    /// The client as envelopes name it.
    Origin origin() const;

    /// The pin of this client's requests to `group`, made on first use.
    RoutePin& pin_for(const Group* group);
    /// The pin of `group`, or nullptr.
    RoutePin* find_pin(const Group* group);
    /// Holds a request behind `pin`'s requests in flight; its payload counts as buffered memory.
    void hold(RoutePin& pin, HeldRequest request);
    /// Takes every request `pin` holds (their memory is no longer counted here).
    std::vector<HeldRequest> take_held(RoutePin& pin);

    /// A request of `bytes` was taken: it is owed an answer. Reading pauses while too many are.
    void begin_request(std::uint32_t bytes);
    /// A request of `bytes` got its answer (or is abandoned).
    void end_request(std::uint32_t bytes);
    /// Requests taken and not answered yet.
    std::uint32_t requests_in_flight() const { return in_flight_; }

    /// One check of the clock-driven rules (idle, slow frames, no first frame): closes the
    /// client when one is broken.
    void check_timeouts(Clock::time_point now);
    /// Notes what the client sent up to now (a drain begins): those bytes are owed an answer.
    void mark_owed_bytes() { owed_until_ = bytes_read() + unread_bytes(); }
    /// True once every byte noted by mark_owed_bytes() was read, or the client is gone.
    bool read_owed_bytes() const { return !is_open() || bytes_read() >= owed_until_; }
    /// When the gate accepted it.
    Clock::time_point accepted_at() const { return accepted_at_; }
    /// True while it counts against max_connections.
    bool admitted() const { return admitted_; }
    /// It no longer counts against max_connections (it was counted out).
    void set_released() { admitted_ = false; }

protected:
    bool on_frame(std::uint32_t msg_id, Bytes payload) override;
    void on_closed() override;
    bool on_peer_finished() override;

private:
    /// Closes once nothing is owed to a client that finished sending.
    void close_if_answered();
    /// Pauses or resumes reading by what is in flight.
    void apply_in_flight_limits();

    NodeShard& shard_;
    std::uint64_t conn_id_;
    std::string uid_;
    std::uint64_t owed_until_ = 0;  // see mark_owed_bytes()
    Clock::time_point accepted_at_;
    Clock::time_point last_heard_;
    Clock::time_point partial_since_{};  // when the frame in progress was first seen partial
    std::uint64_t partial_frame_ = 0;    // frames_read() when it was
    std::uint32_t in_flight_ = 0;
    std::uint32_t in_flight_bytes_ = 0;
    std::int64_t held_bytes_ = 0;  // payloads of held requests, counted as buffered memory
    bool admitted_ = true;
    std::vector<RoutePin> pins_;  // one per group this client sent to
};

}  // namespace dinx::cluster
