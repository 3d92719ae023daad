#pragma once
// The runtime's Context: what a handler's calls do on the client's own gate or on a backend
// that got the message in an envelope.

#include "cluster/api/context.hpp"
#include "cluster/link/envelope.hpp"
#include "cluster/link/link.hpp"
#include "dict/config.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace dinx::cluster {

class CallClient;
class ClientSession;
class Delivery;
class ShardWaits;
class SessionKeeper;
class Link;
class RequestLifecycle;
struct ShardContext;

/// What a handler's calls use on its shard.
struct HandlerServices {
    ShardContext& context;       ///< the node, the cluster snapshot
    Delivery& delivery;          ///< frames and session updates to clients anywhere
    RequestLifecycle& requests;  ///< forwards
    SessionKeeper& keeper;       ///< session changes of this gate's own clients
    CallClient& calls;           ///< calls to methods
    ShardWaits& waits;           ///< timers and blocking work
};

/// The Context a handler gets from the runtime. Valid during the handler call.
class RequestContext final : public Context {
public:
    /// For a message from a client connected to this node.
    RequestContext(HandlerServices& services, ClientSession& client, std::uint32_t msg_id);
    /// For a request that arrived over a link.
    RequestContext(HandlerServices& services, Link& upstream, const Envelope& request);
    /// For no request (a session event, a timer, a method): replies go to `client` as pushes,
    /// session changes to its gate. `deadline`: a method's share of its caller's deadline.
    RequestContext(HandlerServices& services, const Origin& client,
                   std::optional<std::chrono::steady_clock::time_point> deadline = std::nullopt);

    const dict::NodeInfo& node() const override;
    const dict::Config& config() const override;
    std::uint32_t msg_id() const override { return msg_id_; }
    const Origin& client() const override { return origin_; }
    const dict::NodeInfo* forwarded_by() const override;
    bool answered() const override { return answered_; }
    std::optional<std::uint32_t> pick_node(std::string_view group, bool avoid_self) const override;
    Session& session() override { return session_; }
    bool online(std::string_view uid) const override;
    std::vector<std::string> members(std::string_view room) const override;
    std::size_t room_size(std::string_view room) const override;
    std::chrono::milliseconds remaining() const override;

    /// Called once the handler returned: tells the sender the request is finished unless a
    /// reply already did or a forwarded request will.
    void finish();

private:
    void do_reply(std::uint32_t msg_id, Bytes payload) override;
    void do_send_to(std::uint32_t gate_id, std::uint64_t conn_id, std::uint32_t msg_id,
                    Bytes payload) override;
    void do_broadcast(std::uint32_t msg_id, Bytes payload) override;
    void do_forward(std::string_view group, std::uint32_t msg_id, Bytes payload,
                    bool avoid_self) override;
    void do_forward_to(std::uint32_t node_id, std::uint32_t msg_id, Bytes payload) override;
    bool do_bind(std::string uid) override;
    std::vector<std::string> do_push(const std::vector<std::string>& uids, std::uint32_t msg_id,
                                     Bytes payload) override;
    bool do_kick(std::string_view uid, std::string_view reason) override;
    bool do_join(std::string_view room, std::string_view uid) override;
    bool do_leave(std::string_view room, std::string_view uid) override;
    std::size_t do_send_to_room(std::string_view room, std::uint32_t msg_id, Bytes payload,
                                std::string_view except_uid) override;

    /// Sends what the handler changed in the session on its way to the gate, ahead of
    /// whatever this request sends next.
    void flush_session();
    /// Joins or leaves a room, for this client or another online uid.
    bool change_room(SessionOp op, std::string_view room, std::string_view uid);
    void do_fail(std::string_view code, std::string_view message) override;
    Task<CallReply> do_call(CallTarget target, MethodId method, std::string payload,
                            std::chrono::milliseconds timeout) override;
    Task<std::vector<NodeReply>> do_call_all(std::string group, MethodId method,
                                             std::string payload,
                                             std::chrono::milliseconds timeout) override;
    bool do_notify(const CallTarget& target, MethodId method, Bytes payload) override;
    Task<void> do_sleep(std::chrono::milliseconds delay) override;
    Task<void> do_blocking(std::function<void()> work) override;

    /// This message's deadline: set by a caller, or call_timeout_ms from its first use (from
    /// now, each time, for a context that answers no message).
    std::chrono::steady_clock::time_point deadline() const;
    /// When a call made now with `timeout` (0: the default) must end.
    std::chrono::steady_clock::time_point call_deadline(std::chrono::milliseconds timeout) const;
    /// The node `target` names, or nullopt with `why` filled.
    std::optional<std::uint32_t> call_node(const CallTarget& target, CallFailure& why) const;

    /// True when the link the request came from ends at the client's gate, which then is the
    /// end of the way back; otherwise (a forwarded request) answers retrace the forwarding.
    bool upstream_is_gate() const;
    /// What a forwarded request continues.
    PendingRequest continuation(std::uint32_t msg_id, Bytes payload);
    Envelope make_request(std::uint32_t msg_id, Bytes payload) const;

    HandlerServices& services_;
    ClientSession* client_ = nullptr;
    Link* upstream_ = nullptr;
    std::uint64_t upstream_seq_ = 0;
    std::uint32_t via_ = 0;
    std::uint32_t msg_id_;
    Origin origin_;
    Session session_;         // after origin_, which it refers to
    bool answered_ = false;   // a reply or error frame went to the client
    bool finished_ = false;   // the sender was told the request is finished
    bool forwarded_ = false;  // a forwarded request carries the finishing on
    // Set on first use: most messages make no call, and a clock read per message costs.
    mutable std::optional<std::chrono::steady_clock::time_point> deadline_;
    bool open_ended_ = false;  // no message, so no deadline of its own (timers, starters, events)
};

}  // namespace dinx::cluster
