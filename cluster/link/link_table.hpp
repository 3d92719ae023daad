#pragma once
// One shard's links to other nodes, dialed lazily: the first send to a node dials it,
// concurrent first sends wait in one bounded queue for that dial, a failed dial backs off
// (capped exponential) and hands the waiting requests back to the request sink (to another
// node of their group, or failed).

#include "cluster/link/envelope.hpp"
#include "cluster/link/link.hpp"
#include "cluster/observe/node_stats.hpp"
#include "cluster/runtime/shard_context.hpp"
#include "node/dialer.hpp"

#include <asio/awaitable.hpp>

#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <unordered_map>
#include <vector>

namespace dinx::cluster {

class RequestSink;

/// Where a request may go instead when its node cannot be reached (it was never sent).
struct RetryGroup {
    std::optional<dict::GroupId> group;  ///< nullopt: the request was for that node only
    std::optional<std::uint32_t> avoid;  ///< the node to prefer not to choose
};

/// An envelope waiting for its link, owning its payload and uid.
struct QueuedEnvelope {
    Envelope envelope;   ///< payload and values re-pointed at `payload`, `values` when sent
    ByteBuffer payload;  ///< owned copy of the payload
    ByteBuffer values;   ///< owned copy of the session values
    std::optional<PendingRequest> pending;  ///< set for requests
    RetryGroup retry;                       ///< a request's alternatives if the dial fails
};

/// What the table knows of one other node.
enum class PeerState : std::uint8_t {
    idle,         ///< no link and no reason to avoid it: the next use dials
    dialing,      ///< a connect or handshake is in progress
    up,           ///< at least one link is ready
    leaving,      ///< it drains: no new requests until a new link comes up
    unreachable,  ///< its last dial failed; skipped until a dial in the background reaches it
};

/// The word a peer state is shown with: "idle", "dialing", "up", "draining" (leaving), "down"
/// (unreachable).
std::string_view to_string(PeerState state);

/// Links of one shard to every other node. Used only on the shard's io thread.
class LinkTable {
public:
    /// Links of the shard `context` describes; new links are made with `setup`, and requests
    /// that cannot be sent go to `sink`.
    LinkTable(ShardContext& context, const LinkSetup& setup, RequestSink& sink);

    /// False while `node_id` is leaving or unreachable (the balancer skips it); once the
    /// back-off of an unreachable node has passed, asking starts a dial in the background.
    bool is_live(std::uint32_t node_id);
    /// Sends an envelope to a node, dialing if needed; lost (and logged) if the node is
    /// unreachable.
    void send(std::uint32_t node_id, const Envelope& envelope);
    /// Sends a request; if the node cannot be reached the request goes back to the sink.
    void send_request(std::uint32_t node_id, Envelope request, PendingRequest pending,
                      RetryGroup retry);
    /// The link that carries traffic to `node_id`, or nullptr when none is ready.
    std::shared_ptr<Link> ready_link(std::uint32_t node_id);
    /// Starts a dial to `node_id` in the background, unless a link is up or being dialed or the
    /// node's back-off has not passed.
    void connect(std::uint32_t node_id);
    /// A link finished its handshake: it carries traffic to its peer from now on.
    void adopt(const std::shared_ptr<Link>& link);
    /// A link closed: its unfinished requests fail.
    void forget(Link& link);
    /// Calls `visit(Link&)` for every link whose handshake is done.
    template <class Visit>
    void for_each_link(Visit&& visit) {
        for (auto& [id, peer] : peers_)
            for (auto& link : peer.links) visit(*link);
    }
    /// What this table knows of each node it has an entry for (the shard's report).
    std::vector<PeerStats> peer_stats() const;
    /// True when the link to `node_id` has more unsent bytes than it should take more of.
    bool is_overloaded(std::uint32_t node_id) const;
    /// `node_id` is draining (it sent leaving): the balancer skips it from now on.
    void mark_leaving(std::uint32_t node_id);
    /// Closes every link and abandons dials (the node is stopping).
    void close_all();
    /// What hears that a node became unreachable or lost its last link: `maybe_received` when
    /// what was sent to it on a link may have arrived (the calls in flight to it end).
    using NodeLost =
        std::function<void(std::uint32_t node_id, bool maybe_received, const std::string& why)>;
    /// Sets what hears of lost nodes.
    void on_node_lost(NodeLost listener) { node_lost_ = std::move(listener); }

private:
    struct Peer {
        explicit Peer(node::Backoff backoff_) : backoff(backoff_) {}
        PeerState state = PeerState::idle;
        std::vector<std::shared_ptr<Link>> links;  // ready links, first one carries traffic
        std::shared_ptr<Link> handshaking;         // dialed link waiting for hello_ack
        std::shared_ptr<node::Socket> socket;      // socket of a connect in progress
        std::deque<QueuedEnvelope> queue;
        node::Backoff backoff;
        std::chrono::steady_clock::time_point retry_at{};
        std::uint64_t dials = 0;               // for the metrics (PeerStats)
        std::uint64_t dial_failures = 0;
        std::uint64_t handshake_failures = 0;
        std::uint64_t dropped = 0;
    };

    Peer& peer(std::uint32_t node_id);
    /// True when a dial is too early: the node failed and its back-off has not passed.
    bool backing_off(const Peer& peer) const;
    void enqueue(std::uint32_t node_id, Peer& peer, QueuedEnvelope item);
    void dial(std::uint32_t node_id, Peer& peer);
    asio::awaitable<void> connect(std::uint32_t node_id, std::shared_ptr<node::Socket> socket);
    /// Marks a node unreachable until a dial reaches it, and hands back what waited.
    /// `expected`: it left in a drain, which is worth an info line, not a warning.
    void on_dial_failed(std::uint32_t node_id, const std::string& reason, bool expected = false);
    void flush_queue(Peer& peer, Link& link);
    /// Empties `peer`'s queue (its payloads no longer count as buffered memory or owed work).
    std::deque<QueuedEnvelope> take_queue(Peer& peer);
    /// Fails the unfinished requests of a closed link, in the order they were sent.
    void fail_pending(Link& link);

    ShardContext& context_;
    const LinkSetup& setup_;
    RequestSink& sink_;
    NodeLost node_lost_;
    std::unordered_map<std::uint32_t, Peer> peers_;
    bool closing_ = false;
};

}  // namespace dinx::cluster
