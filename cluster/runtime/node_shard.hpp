#pragma once
// The part of a node that lives on one io thread: it owns the tables (clients, links, requests
// in flight), the timers and what this thread owes before it stops, and wires the roles
// together. The message logic is in the roles: ClientRouter (a gate's clients), LinkDispatch and
// RequestLifecycle (envelopes and requests), Delivery (frames to clients anywhere).

#include "cluster/gate/client_guard.hpp"
#include "cluster/gate/client_router.hpp"
#include "cluster/gate/client_session.hpp"
#include "cluster/gate/client_table.hpp"
#include "cluster/gate/directory.hpp"
#include "cluster/gate/presence_publisher.hpp"
#include "cluster/gate/session_keeper.hpp"
#include "cluster/link/link.hpp"
#include "cluster/link/link_dispatch.hpp"
#include "cluster/link/link_events.hpp"
#include "cluster/link/link_table.hpp"
#include "cluster/rpc/call_client.hpp"
#include "cluster/rpc/request_lifecycle.hpp"
#include "cluster/runtime/delivery.hpp"
#include "cluster/runtime/request_context.hpp"
#include "cluster/runtime/shard_context.hpp"
#include "cluster/runtime/shard_host.hpp"
#include "cluster/runtime/shard_waits.hpp"
#include "node/event_summary.hpp"
#include "node/ticker.hpp"

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <unordered_map>
#include <vector>

namespace dinx::cluster {

/// One node's state on one io thread.
class NodeShard final : public LinkEvents, public ClientEvents {
public:
    /// Shard `index` of the `shard_count` of node `info` (of `topology`), running on io thread
    /// `thread`, whose context is `io`, for `host`.
    NodeShard(ShardHost& host, const dict::NodeInfo& info,
              std::shared_ptr<const dict::Topology> topology, std::size_t index,
              std::size_t shard_count, std::size_t thread, asio::io_context& io,
              spdlog::logger& log, AddressBook& addresses,
              std::shared_ptr<node::MemoryBudget> budget, Directory& directory);
    ~NodeShard() override;

    /// Frames to clients, for work posted here by a sibling shard.
    Delivery& delivery() { return delivery_; }
    /// Answers dropped because their request was already answered (or its way back is gone).
    std::uint64_t late_answers() const { return requests_.late_answers(); }

    /// Sends this gate's presence changes to the other nodes (shard 0 of a gate only).
    void flush_presence();
    /// Kicks `uid` wherever it is bound (its gate closes it after a kick frame with `reason`);
    /// false when the directory knows no session of it.
    bool kick(const std::string& uid, const std::string& reason);
    /// This shard's report (clients, links), filled on its own thread.
    ShardStats stats();
    /// Runs with `topology` from now on (a live reload): its routes, groups, nodes and the
    /// settings that apply at once. Requests already sent go on where they went.
    void apply_topology(std::shared_ptr<const dict::Topology> topology);

    /// Takes a client connection accepted on this shard's thread by client listener
    /// `endpoint` (0: the node's `port`; then its `listeners` in order).
    void accept_client(node::Socket socket, std::size_t endpoint);
    /// Closes this shard's oldest client that never sent a complete frame, to make room for a
    /// new one; false when it has none.
    bool evict_unproven_client();
    /// Takes a link connection accepted on this shard's thread.
    void accept_link(node::Socket socket);
    /// Starts the heartbeat of links and the checks of clients.
    void start_timers();
    /// Starts a graceful stop: every link is told this node is leaving, new client requests are
    /// refused; `on_drained` runs once, on this thread, when nothing is owed any more (every
    /// peer acknowledged, every request in flight finished, every byte a client sent before now
    /// read and answered, every queue written).
    void begin_drain(std::function<void()> on_drained);
    /// Closes every connection of this shard (the node is stopping).
    void close_all();

    void on_link_ready(const std::shared_ptr<Link>& link) override;
    void on_link_envelope(Link& link, const Envelope& envelope) override;
    void on_link_closed(Link& link) override;
    void on_client_frame(ClientSession& session, std::uint32_t msg_id, Bytes payload) override;
    void on_first_client_frame(ClientSession& session) override;
    void on_client_closed(ClientSession& session) override;

private:
    /// Fills the envelope kind -> action table.
    void wire_dispatch();
    /// Admits a client over max_connections by evicting an unproven one (here or on another
    /// shard); false when the socket was refused or handed on.
    bool make_room(node::Socket& socket, std::size_t endpoint);
    /// Starts a client that was counted in against max_connections.
    void start_client(node::Socket socket, std::size_t endpoint);
    /// Takes a client after another shard evicted one to make room (or refuses it).
    void accept_client_after_eviction(node::Socket socket, std::size_t endpoint);
    /// Closes a client beyond max_connections.
    void refuse_client(node::Socket& socket);
    /// A client's request, from a link or from this gate's own client: run now, or queued
    /// behind the client's coroutine handler that is still running.
    struct HeldRequest;
    /// Who a request is from: gate and connection.
    struct ClientKey {
        std::uint32_t gate_id = 0;
        std::uint64_t conn_id = 0;
        bool operator==(const ClientKey&) const = default;
    };
    struct ClientKeyHash {
        std::size_t operator()(const ClientKey& key) const;
    };
    /// A request that arrived over `link`.
    void on_link_request(Link& link, const Envelope& request);
    /// A message of this gate's own client, routed to a handler here.
    void on_gate_request(ClientSession& session, std::uint32_t msg_id, Bytes payload);
    /// Runs the plain handler of `ctx`'s message; its answer or error frame goes by the context.
    void run_handler(RequestContext& ctx, Bytes payload);
    /// Starts the coroutine handler of `held`; true when it is still running (suspended).
    bool start_coroutine(const ClientKey& key, std::unique_ptr<HeldRequest> held);
    /// A coroutine handler ended (having thrown `error`, if not null): its request is finished.
    void finish_coroutine(RequestContext& ctx, std::exception_ptr error);
    /// Runs `held` now: a coroutine or a plain handler. True when a coroutine still runs.
    bool run_held(const ClientKey& key, std::unique_ptr<HeldRequest> held);
    /// Queues `held` behind its client's running coroutine handler, or starts it when none runs.
    void start_or_hold(const ClientKey& key, std::unique_ptr<HeldRequest> held);
    /// Queues `held` behind its client's running coroutine (or refuses it when too many wait).
    void hold_back(std::deque<std::unique_ptr<HeldRequest>>& queue,
                   std::unique_ptr<HeldRequest> held);
    /// The client's coroutine ended: its queued requests run, in order.
    void release(const ClientKey& key);
    /// A call envelope arrived over `link`.
    void on_call(Link& link, const Envelope& call);
    /// Runs method `method` for `origin` and gives its outcome to `reply`, once.
    void serve_call(MethodId method, const Origin& origin, std::string payload,
                    CallClient::Clock::time_point deadline, std::function<void(CallReply)> reply);
    /// Starts this node's service timers and starters (on shard 0 of each node of their group).
    void start_service_timers();
    /// Tells a node of each group that listens to session events about `client`.
    void report_event(const Origin& client, SessionEventKind kind, DisconnectReason reason);
    /// Runs the session event handler (a node of a listening group).
    void run_event_handler(const Origin& client, SessionEventKind kind, DisconnectReason reason);
    /// Applies a presence batch that gate `link.peer_id()` sent over `link`.
    void on_presence(Link& link, Bytes batch);
    /// Delivers a multicast envelope's frame to its clients here.
    void on_multicast(const Envelope& frame);
    void heartbeat_links();
    /// Summaries, memory given back: what every node does once per heartbeat tick.
    void housekeeping();
    void check_clients();
    /// Second step of a drain: nothing is owed but unsent bytes; then `on_drained`.
    void flush_then(std::function<void()> on_drained);

    ShardHost& host_;
    ShardContext context_;
    LinkSetup link_setup_;
    ClientRules client_rules_;
    ClientTable clients_;
    LinkTable links_;
    RequestLifecycle requests_;
    Delivery delivery_;
    SessionKeeper keeper_;
    CallClient calls_;
    ShardWaits waits_;
    HandlerServices services_;
    std::optional<PresencePublisher> publisher_;  // shard 0 of a gate
    std::optional<ClientRouter> router_;          // gates only
    LinkDispatch dispatch_;
    ClientGuard guard_;
    node::EventSummary refused_links_;
    // Accepted links until their handshake ends, oldest first (the first to go when too many).
    std::map<std::uint64_t, std::shared_ptr<Link>> handshaking_links_;
    std::uint64_t next_link_seq_ = 1;
    std::uint64_t next_conn_seq_ = 0;
    node::Ticker heartbeat_;
    node::Ticker client_check_;
    std::vector<std::unique_ptr<node::Ticker>> service_timers_;
    // Clients with a coroutine handler running here, and their requests that wait for it.
    std::unordered_map<ClientKey, std::deque<std::unique_ptr<HeldRequest>>, ClientKeyHash> busy_;
    bool stopping_ = false;
    std::uint64_t late_answers_logged_ = 0;
};

}  // namespace dinx::cluster
