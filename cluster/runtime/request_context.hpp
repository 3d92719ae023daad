#pragma once
// The runtime's Context: what a handler's calls do on the client's own gate or on a backend
// that got the message in an envelope.

#include "cluster/api/context.hpp"
#include "cluster/link/envelope.hpp"
#include "cluster/link/link.hpp"
#include "dict/config.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace dinx::cluster {

class ClientSession;
class Delivery;
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
};

/// The Context a handler gets from the runtime. Valid during the handler call.
class RequestContext final : public Context {
public:
    /// For a message from a client connected to this node.
    RequestContext(HandlerServices& services, ClientSession& client, std::uint32_t msg_id);
    /// For a request that arrived over a link.
    RequestContext(HandlerServices& services, Link& upstream, const Envelope& request);
    /// For no request (a session event): replies go to `client` as pushes, session changes
    /// to its gate.
    RequestContext(HandlerServices& services, const Origin& client);

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
};

}  // namespace dinx::cluster
