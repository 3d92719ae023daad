#pragma once
// What a handler can do with the message it runs for, wherever it runs: on the client's own
// gate or on a backend that got the message in an envelope.

#include "cluster/envelope.hpp"
#include "cluster/link.hpp"
#include "dict/config.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace dinx::cluster {

class ClientSession;
class Link;
class NodeShard;

/// The message a handler runs for, and the ways to answer it. Valid during the handler call.
class Context {
public:
    /// For a message from a client connected to this node.
    Context(NodeShard& shard, ClientSession& client, std::uint32_t msg_id);
    /// For a request that arrived over a link.
    Context(NodeShard& shard, Link& upstream, const Envelope& request);
    Context(const Context&) = delete;
    Context& operator=(const Context&) = delete;

    /// The node running the handler (its dinx.toml row).
    const dict::NodeInfo& node() const;
    /// The whole cluster configuration.
    const dict::Config& config() const;
    /// The msgID being handled.
    std::uint32_t msg_id() const { return msg_id_; }
    /// The client the message came from: gate id, connection id, bound uid.
    const Origin& client() const { return origin_; }
    /// The node that forwarded this message here, or nullptr when it came straight from a gate.
    const dict::NodeInfo* forwarded_by() const;

    /// Sends a frame back to the client, through its gate.
    void reply(std::uint32_t msg_id, Bytes payload);
    /// reply() with text.
    void reply(std::uint32_t msg_id, std::string_view text) { reply(msg_id, as_bytes(text)); }
    /// Sends a frame to any client, named by its gate id and connection id.
    void send_to(std::uint32_t gate_id, std::uint64_t conn_id, std::uint32_t msg_id, Bytes payload);
    /// send_to() with text.
    void send_to(std::uint32_t gate_id, std::uint64_t conn_id, std::uint32_t msg_id,
                 std::string_view text) {
        send_to(gate_id, conn_id, msg_id, as_bytes(text));
    }
    /// Sends a frame to every client of every gate, this one included.
    void broadcast(std::uint32_t msg_id, Bytes payload);
    /// broadcast() with text.
    void broadcast(std::uint32_t msg_id, std::string_view text) {
        broadcast(msg_id, as_bytes(text));
    }
    /// Passes the request on to a live node of `group` (sticky for the client), keeping the
    /// client as origin so that the receiver can reply to it. With `avoid_self` a node other than
    /// this one is preferred while one is reachable. Errors reach the client as error frames.
    void forward(std::string_view group, std::uint32_t msg_id, Bytes payload,
                 bool avoid_self = false);
    /// Passes the request on to one node.
    void forward_to(std::uint32_t node_id, std::uint32_t msg_id, Bytes payload);
    /// A live node of `group` for this client, preferring one other than this node; nullopt
    /// when the group is unknown or none of its nodes is reachable.
    std::optional<std::uint32_t> pick_node(std::string_view group, bool avoid_self) const;
    /// Binds a uid to the client's session; applied on its gate before any later message of the
    /// client is handled. Throws std::length_error above max_uid_size bytes.
    void bind(std::string uid);
    /// Unbinds the uid.
    void unbind() { bind({}); }
    /// Sends the client an error frame about this message instead of a reply.
    void fail(std::string_view code, std::string_view message);
    /// True once a reply or an error frame was sent for this message.
    bool answered() const { return answered_; }

    /// Called once the handler returned: tells the sender the request is finished unless a
    /// reply already did or a forwarded request will.
    void finish();

private:
    /// True when the link the request came from ends at the client's gate, which then is the
    /// end of the way back; otherwise (a forwarded request) answers retrace the forwarding.
    bool upstream_is_gate() const;
    /// What a forwarded request continues.
    PendingRequest continuation(std::uint32_t msg_id, Bytes payload);
    Envelope make_request(std::uint32_t msg_id, Bytes payload) const;

    NodeShard& shard_;
    ClientSession* client_ = nullptr;
    Link* upstream_ = nullptr;
    std::uint64_t upstream_seq_ = 0;
    std::uint32_t via_ = 0;
    std::uint32_t msg_id_;
    Origin origin_;
    bool answered_ = false;   // a reply or error frame went to the client
    bool finished_ = false;   // the sender was told the request is finished
    bool forwarded_ = false;  // a forwarded request carries the finishing on
};

}  // namespace dinx::cluster
