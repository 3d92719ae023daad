#pragma once
// The gate-side state of one player connection: its id, the uid bound to it, where its requests
// are pinned, and how many of its requests are in flight (too many pause reading from it).

#include "cluster/api/origin.hpp"
#include "cluster/api/session.hpp"
#include "cluster/api/session_event.hpp"
#include "cluster/gate/route_pin.hpp"
#include "cluster/observe/shard_metrics.hpp"
#include "dict/config.hpp"
#include "node/framed_transport.hpp"

#include <chrono>
#include <memory>
#include <string_view>
#include <utility>
#include <vector>

namespace dinx::cluster {

class ClientSession;
class Drain;

/// What a shard hears from its clients.
class ClientEvents {
public:
    virtual ~ClientEvents() = default;
    /// A client frame arrived (the payload is valid during the call only).
    virtual void on_client_frame(ClientSession& session, std::uint32_t msg_id, Bytes payload) = 0;
    /// A client sent its first complete frame.
    virtual void on_first_client_frame(ClientSession& session) = 0;
    /// A client went away (once).
    virtual void on_client_closed(ClientSession& session) = 0;
};

/// The rules of one gate's clients, shared by its sessions; owned by the shard.
struct ClientRules {
    std::uint32_t gate_id = 0;                        ///< the gate's node id
    std::uint32_t max_in_flight = 0;                  ///< requests before reading pauses
    std::uint32_t max_in_flight_bytes = 0;            ///< their bytes before reading pauses
    std::chrono::milliseconds idle_timeout{};         ///< silence before a client is closed
    std::chrono::milliseconds frame_timeout{};        ///< a frame's first to last byte
    std::chrono::milliseconds first_frame_timeout{};  ///< connect to first complete frame
    std::chrono::milliseconds handshake_timeout{};    ///< connect to WebSocket or TLS ready
    ClientEvents* events = nullptr;                   ///< the shard
    Drain* drain = nullptr;                           ///< what the shard owes
    ShardMetrics* metrics = nullptr;                  ///< counts frames out; null: metrics off

    /// The rules `settings` give the clients of gate `gate_id` (events, drain and metrics left
    /// unset).
    static ClientRules from_settings(const dict::Settings& settings, std::uint32_t gate_id);
    /// How often the clock-driven rules are checked: at least 4 times per timeout, at most
    /// once a second.
    std::chrono::milliseconds check_interval() const;
};

/// A client connection on a frontend. Its frames are client messages, never envelopes; they
/// come over a transport it owns (TCP today), whose kind it does not know.
class ClientSession final : public node::FrameSink {
public:
    using Clock = std::chrono::steady_clock;

    /// A connected client on `transport` (not started) with the id the gate gave it, accepted
    /// at `accepted_at`.
    ClientSession(const ClientRules& rules, std::shared_ptr<node::FramedTransport> transport,
                  std::uint64_t conn_id, Clock::time_point accepted_at);
    ~ClientSession() override;

    /// Starts reading the frames of `session`, which its transport keeps alive until closed.
    static void start(const std::shared_ptr<ClientSession>& session) {
        session->transport_->start(session);
    }
    /// The connection it talks over.
    node::FramedTransport& transport() { return *transport_; }
    /// The connection it talks over.
    const node::FramedTransport& transport() const { return *transport_; }
    /// Queues one frame to the client.
    void send(std::uint32_t msg_id, Bytes payload) {
        if (rules_.metrics) rules_.metrics->count_out(msg_id, payload.size());
        transport_->send(msg_id, payload);
    }
    /// Closes the connection now (see FramedTransport::close).
    void close(std::string reason, std::string_view violation = {}) {
        transport_->close(std::move(reason), violation);
    }
    /// False once the connection closed.
    bool is_open() const { return transport_->is_open(); }

    /// Unique within this gate for the life of the process.
    std::uint64_t conn_id() const { return conn_id_; }
    /// The bound user id; empty while not logged in.
    const std::string& uid() const { return uid_; }
    /// Binds (or with an empty string unbinds) the user id.
    void set_uid(std::string uid) { uid_ = std::move(uid); }
    /// The client as envelopes name it.
    Origin origin() const;
    /// The session's values, which every request of it carries.
    SessionValues& values() { return values_; }
    /// The session's values, which every request of it carries.
    const SessionValues& values() const { return values_; }
    /// Why the session ended (or will): closed unless the gate said otherwise.
    DisconnectReason disconnect_reason() const { return disconnect_reason_; }
    /// Sets why the session ends, before closing it for that reason.
    void set_disconnect_reason(DisconnectReason reason) { disconnect_reason_ = reason; }
    /// Ends the session for `reason`: it reads nothing more, gets one last frame, then closes
    /// once that frame is written. A second call does nothing.
    void end(DisconnectReason reason, std::uint32_t frame_msg_id, Bytes frame, std::string why);
    /// True once end() was called.
    bool ending() const { return ending_; }
    /// True the first time only: its uid and rooms are released and its disconnect reported
    /// once, whether at a gate's drain or at its close.
    bool first_farewell() { return !std::exchange(farewell_done_, true); }

    /// The pin of this client's requests to `group`, made on first use.
    RoutePin& pin_for(dict::GroupId group);
    /// The pin of `group`, or nullptr.
    RoutePin* find_pin(dict::GroupId group);
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
    /// A drain begins: what the client sent up to now is owed an answer, so the drain waits
    /// until those bytes are read (or the client is gone).
    void owe_sent_bytes();
    /// When the gate accepted it.
    Clock::time_point accepted_at() const { return accepted_at_; }
    /// True while it counts against max_connections.
    bool admitted() const { return admitted_; }
    /// It no longer counts against max_connections (it was counted out).
    void set_released() { admitted_ = false; }

    bool on_frame(std::uint32_t msg_id, Bytes payload) override;
    void on_closed() override;
    bool on_peer_finished() override;

private:
    /// Closes once nothing is owed to a client that finished sending.
    void close_if_answered();
    /// Tells the drain once the owed bytes are read (or the client is gone).
    void settle_owed_bytes();
    /// Pauses or resumes reading by what is in flight.
    void apply_in_flight_limits();

    const ClientRules& rules_;
    std::shared_ptr<node::FramedTransport> transport_;
    std::uint64_t conn_id_;
    std::string uid_;
    SessionValues values_;
    DisconnectReason disconnect_reason_ = DisconnectReason::closed;
    bool ending_ = false;           // end() was called
    bool farewell_done_ = false;    // see first_farewell()
    std::uint64_t owed_until_ = 0;  // see owe_sent_bytes()
    bool owing_ = false;            // the drain waits for owed_until_
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
