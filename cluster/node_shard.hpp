#pragma once
// The part of a node that lives on one io thread: its client sessions, its links, and the
// message path between them. Everything here is touched by that thread only; work for
// another shard is posted to it.

#include "cluster/address_book.hpp"
#include "cluster/client_session.hpp"
#include "cluster/handler.hpp"
#include "cluster/link.hpp"
#include "cluster/link_manager.hpp"
#include "cluster/topology.hpp"
#include "node/ticker.hpp"

#include <spdlog/logger.h>
#include <asio/io_context.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <unordered_map>

namespace dinx::cluster {

class Context;
class Node;

/// One node's state on one io thread.
class NodeShard {
public:
    /// Shard `index` of `node`, running on `io`.
    NodeShard(Node& node, std::size_t index, asio::io_context& io);
    ~NodeShard();

    // --- facts -------------------------------------------------------------------------------
    /// The node this shard belongs to.
    Node& node() { return node_; }
    /// This node's row of dinx.toml.
    const dict::NodeInfo& info() const;
    /// This node's id.
    std::uint32_t node_id() const;
    /// Name of node `id` (or its number when unknown), for messages.
    std::string node_name(std::uint32_t id) const;
    /// True when `id` is a node of the cluster config.
    bool is_cluster_node(std::uint32_t id) const;
    /// The cluster's lookup tables.
    const Topology& topology() const;
    /// Where other nodes listen.
    AddressBook& addresses();
    /// This node's logger.
    spdlog::logger& log();
    /// The io thread's executor.
    asio::any_io_executor executor() { return io_.get_executor(); }
    /// The io thread's context.
    asio::io_context& io() { return io_; }
    /// Limits applied to links.
    node::ConnectionLimits link_limits() const;
    /// This shard's links.
    LinkManager& links() { return links_; }

    // --- connections -------------------------------------------------------------------------
    /// Takes a client connection accepted on this shard's thread.
    void accept_client(node::Socket socket);
    /// Takes a link connection accepted on this shard's thread.
    void accept_link(node::Socket socket);
    /// A client frame arrived: run it here or send it to its group.
    void on_client_frame(ClientSession& session, std::uint32_t msg_id, Bytes payload);
    /// A client went away.
    void on_client_closed(ClientSession& session);
    /// A link finished its handshake.
    void on_link_ready(const std::shared_ptr<Link>& link);
    /// An envelope arrived on a ready link.
    void on_link_envelope(Link& link, const Envelope& envelope);
    /// A link closed.
    void on_link_closed(Link& link);
    /// Starts the heartbeat of links and the idle check of clients.
    void start_timers();
    /// Starts a graceful stop: every link is told this node is leaving, new client requests are
    /// refused; `on_drained` runs once, on this thread, when nothing is owed any more (every
    /// peer acknowledged, every request in flight finished, every queue written, every byte a
    /// client sent before now read and answered).
    void begin_drain(std::function<void()> on_drained);
    /// Closes every connection of this shard (the node is stopping).
    void close_all();

    // --- the message path, used by Context ------------------------------------------------------
    /// Delivers a frame to a client of any gate (here, another shard, or over a link).
    void deliver(std::uint32_t gate_id, std::uint64_t conn_id, std::uint32_t msg_id, Bytes payload);
    /// Binds (or unbinds, with "") a uid on a client of any gate.
    void update_session(std::uint32_t gate_id, std::uint64_t conn_id, const std::string& uid);
    /// Sends a frame to every client of every gate.
    void broadcast(std::uint32_t msg_id, Bytes payload);
    /// Sends a request to the live node of `group` that is sticky for its client, avoiding
    /// `avoid` unless it is the only live one.
    void route_request(const Group& group, Envelope request, PendingRequest pending,
                       std::optional<std::uint32_t> avoid = std::nullopt);
    /// Sends a request to one node.
    void send_request(std::uint32_t node_id, Envelope request, PendingRequest pending);
    /// Tells a request's client it failed and finishes the request it continues, if any.
    void fail_request(const PendingRequest& request, std::string_view code, const std::string& why);
    /// Sends an error frame about request `msg_id` to a client of any gate.
    void send_error(std::uint32_t gate_id, std::uint64_t conn_id, std::uint32_t msg_id,
                    std::string_view code, const std::string& why);
    /// A live node of `group` for the sticky `key`, avoiding `avoid` unless it is the only one.
    std::optional<std::uint32_t> pick_node(const Group& group, std::uint64_t key,
                                           std::optional<std::uint32_t> avoid);

private:
    /// The shard that owns connection `conn_id` of this node.
    std::size_t shard_of(std::uint64_t conn_id) const;
    ClientSession* find_session(std::uint64_t conn_id);
    /// Closes a client beyond max_connections, logging at most once a second.
    void refuse_client(node::Socket& socket);
    void deliver_here(std::uint64_t conn_id, std::uint32_t msg_id, Bytes payload);
    void broadcast_here(std::uint32_t msg_id, Bytes payload);
    void run_handler(Context& ctx, Bytes payload);
    void on_request(Link& link, const Envelope& request);
    void on_finished(Link& link, std::uint64_t seq);
    /// Routes a client's request, keeping its order with the client's earlier ones.
    void route_client_request(ClientSession& session, const Group& group, std::uint32_t msg_id,
                              Bytes payload);
    /// A request of a local client finished: its pin may let held requests go.
    void on_client_request_finished(const PendingRequest& request);
    /// Answers a client request with the error frame `refusal` stands for.
    void refuse(ClientSession& session, const Group& group, std::uint32_t msg_id, Refusal refusal);
    void heartbeat_links();
    /// True when a drain has nothing left to wait for.
    bool drained();
    void check_drained();
    void check_idle_clients();

    Node& node_;
    std::size_t index_;
    asio::io_context& io_;
    LinkManager links_;
    const Group* own_group_;  // the group of this node: its routes run here
    std::unordered_map<std::uint64_t, std::shared_ptr<ClientSession>> sessions_;
    std::unordered_map<Link*, std::shared_ptr<Link>> accepted_links_;  // until their handshake ends
    std::uint64_t next_conn_seq_ = 0;
    node::Ticker heartbeat_;
    node::Ticker idle_check_;
    node::Ticker drain_check_;
    std::function<void()> on_drained_;  // set while draining
    bool stopping_ = false;
    std::uint64_t refused_clients_ = 0;  // since the last refusal log line
    std::chrono::steady_clock::time_point last_refusal_log_{};
};

}  // namespace dinx::cluster
