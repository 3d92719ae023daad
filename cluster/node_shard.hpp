#pragma once
// The part of a node that lives on one io thread: its client sessions, its links, and the
// message path between them. Everything here is touched by that thread only; work for
// another shard is posted to it.

#include "cluster/address_book.hpp"
#include "cluster/api/error.hpp"
#include "cluster/api/handler.hpp"
#include "cluster/client_guard.hpp"
#include "cluster/client_session.hpp"
#include "cluster/link.hpp"
#include "cluster/link_manager.hpp"
#include "cluster/topology.hpp"
#include "node/event_summary.hpp"
#include "node/memory_budget.hpp"
#include "node/ticker.hpp"

#include <spdlog/logger.h>
#include <asio/io_context.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <unordered_map>

namespace dinx::cluster {

class RequestContext;
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
    /// This shard's index (= its io thread's).
    std::size_t index() const { return index_; }
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
    /// The process's memory budget.
    const std::shared_ptr<node::MemoryBudget>& budget() const { return budget_; }
    /// This io thread's count in the budget.
    node::MemoryBudget::Account& account() { return budget_->account(index_); }
    /// Answers dropped because their request was already answered (or its way back is gone).
    std::uint64_t late_answers() const { return late_answers_.load(std::memory_order_relaxed); }

    // --- connections -------------------------------------------------------------------------
    /// Takes a client connection accepted on this shard's thread.
    void accept_client(node::Socket socket);
    /// Closes this shard's oldest client that never sent a complete frame, to make room for a
    /// new one; false when it has none.
    bool evict_unproven_client();
    /// Takes a link connection accepted on this shard's thread.
    void accept_link(node::Socket socket);
    /// A client's first complete frame arrived: it is no longer the first to be evicted.
    void on_first_client_frame(ClientSession& session);
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
    /// Starts the heartbeat of links and the checks of clients.
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
    /// A request ends without a reply: its client gets an error frame by the way the request
    /// came (unless it already got an answer), and whatever it continues is finished.
    void fail_request(const PendingRequest& request, Error code, const std::string& why);
    /// Sends an error frame about request `msg_id` to a client of any gate.
    void send_error(std::uint32_t gate_id, std::uint64_t conn_id, std::uint32_t msg_id, Error code,
                    const std::string& why);
    /// A live node of `group` for the sticky `key`, avoiding `avoid` unless it is the only one.
    std::optional<std::uint32_t> pick_node(const Group& group, std::uint64_t key,
                                           std::optional<std::uint32_t> avoid);
    /// Counts (and summarises in the log) an answer dropped because its request was answered
    /// already or the way back to its client is gone.
    void note_late_answer();

private:
    /// The shard that owns connection `conn_id` of this node.
    std::size_t shard_of(std::uint64_t conn_id) const;
    ClientSession* find_session(std::uint64_t conn_id);
    /// Admits a client over max_connections by evicting an unproven one (here or on another
    /// shard); false when the socket was refused or handed on.
    bool make_room(node::Socket& socket);
    /// Starts a client that was counted in against max_connections.
    void start_client(node::Socket socket);
    /// Takes a client after another shard evicted one to make room (or refuses it).
    void accept_client_after_eviction(node::Socket socket);
    /// Closes a client beyond max_connections.
    void refuse_client(node::Socket& socket);
    void deliver_here(std::uint64_t conn_id, std::uint32_t msg_id, Bytes payload);
    void broadcast_here(std::uint32_t msg_id, Bytes payload);
    void run_handler(RequestContext& ctx, Bytes payload);
    void on_request(Link& link, const Envelope& request);
    /// An answer to request `seq` of `link` arrived (to_client or answer): pass it on toward
    /// its client, the way the request came.
    void on_answer(Link& link, const Envelope& answer, bool finishes);
    /// A session update on behalf of request `seq` of `link`: pass it on the same way.
    void on_session_answer(Link& link, const Envelope& update);
    void on_finished(Link& link, std::uint64_t seq);
    /// Sends one answer of `request` on toward its client.
    void pass_answer(const PendingRequest& request, std::uint32_t msg_id, Bytes payload,
                     bool finishes);
    /// Tells the link `request` continues that it is finished.
    void finish_upstream(const PendingRequest& request);
    /// Routes a client's request, keeping its order with the client's earlier ones.
    void route_client_request(ClientSession& session, const Group& group, std::uint32_t msg_id,
                              Bytes payload);
    /// A request of a local client finished: its pin may let held requests go.
    void on_client_request_finished(const PendingRequest& request);
    /// Routes or refuses, in order, what a pin held.
    void release_held(ClientSession& session, const Group& group, RoutePin& pin);
    /// Answers a client request with the error frame `refusal` stands for.
    void refuse(ClientSession& session, const Group& group, std::uint32_t msg_id, Refusal refusal,
                std::uint32_t size);
    void heartbeat_links();
    /// Summaries, memory given back: what every node does once per heartbeat tick.
    void housekeeping();
    /// True when a drain has nothing left to wait for.
    bool drained();
    void check_drained();
    void check_clients();
    /// Over the memory budget: closes the clients that let the most bytes pile up.
    void reclaim_memory();

    Node& node_;
    std::size_t index_;
    asio::io_context& io_;
    std::shared_ptr<node::MemoryBudget> budget_;
    LinkManager links_;
    const Group* own_group_;  // the group of this node: its routes run here
    std::unordered_map<std::uint64_t, std::shared_ptr<ClientSession>> sessions_;
    // Accepted links until their handshake ends, oldest first (the first to go when too many).
    std::map<std::uint64_t, std::shared_ptr<Link>> handshaking_links_;
    std::uint64_t next_link_seq_ = 1;
    std::uint64_t next_conn_seq_ = 0;
    ClientGuard guard_;
    node::EventSummary refused_links_;
    node::Ticker heartbeat_;
    node::Ticker client_check_;
    node::Ticker drain_check_;
    std::function<void()> on_drained_;  // set while draining
    bool stopping_ = false;
    std::atomic<std::uint64_t> late_answers_{0};
    std::uint64_t late_answers_logged_ = 0;
};

}  // namespace dinx::cluster
