#pragma once
// One shard's links to other nodes, dialed lazily: the first send to a node dials it,
// concurrent first sends wait in one bounded queue for that dial, a failed dial backs off
// (capped exponential) and turns the waiting requests into errors or sends them to a peer.

#include "cluster/envelope.hpp"
#include "cluster/link.hpp"
#include "cluster/topology.hpp"
#include "node/dialer.hpp"

#include <asio/ip/tcp.hpp>

#include <chrono>
#include <deque>
#include <memory>
#include <unordered_map>
#include <vector>

namespace dinx::cluster {

class NodeShard;

/// Where a request may go instead when its node cannot be reached (it was never sent).
struct RetryGroup {
    const Group* group = nullptr;        ///< nullptr: the request was for that node only
    std::optional<std::uint32_t> avoid;  ///< the node to prefer not to choose
};

/// An envelope waiting for its link, owning its payload and uid.
struct QueuedEnvelope {
    Envelope envelope;                      ///< payload re-pointed at `payload` when sent
    ByteBuffer payload;                     ///< owned copy of the payload
    std::optional<PendingRequest> pending;  ///< set for requests
    RetryGroup retry;                       ///< a request's alternatives if the dial fails
};

/// Links of one shard to every other node. Used only on the shard's io thread.
class LinkManager {
public:
    /// Links of `shard`.
    explicit LinkManager(NodeShard& shard);

    /// False from a failed dial of `node_id` until a dial reaches it again (the balancer skips
    /// it meanwhile); once its back-off has passed, asking starts that dial in the background.
    bool is_live(std::uint32_t node_id);
    /// Sends an envelope to a node, dialing if needed; lost (and logged) if the node is
    /// unreachable.
    void send(std::uint32_t node_id, const Envelope& envelope);
    /// Sends a request; if the node cannot be reached the request goes to another live node of
    /// `retry.group` (when given: it was never sent) or its client gets an error frame.
    void send_request(std::uint32_t node_id, Envelope request, PendingRequest pending,
                      RetryGroup retry);
    /// A link finished its handshake: it carries traffic to its peer from now on.
    void adopt(const std::shared_ptr<Link>& link);
    /// A link closed: its unfinished requests fail with `unavailable`.
    void forget(Link& link);
    /// Calls `visit(Link&)` for every link whose handshake is done.
    template <class Visit>
    void for_each_link(Visit&& visit) {
        for (auto& [id, peer] : peers_)
            for (auto& link : peer.links) visit(*link);
    }
    /// True when the link to `node_id` has more unsent bytes than link_queue_bytes.
    bool is_overloaded(std::uint32_t node_id) const;
    /// `node_id` is draining (it sent leaving): the balancer skips it from now on.
    void mark_draining(std::uint32_t node_id);
    /// True when no envelope waits for a dial (part of a drain's end).
    bool queues_empty() const;
    /// Closes every link and abandons dials (the node is stopping).
    void close_all();

private:
    struct Peer {
        explicit Peer(node::Backoff backoff_) : backoff(backoff_) {}
        std::vector<std::shared_ptr<Link>> links;  // ready links, first one carries traffic
        std::shared_ptr<Link> handshaking;         // dialed link waiting for hello_ack
        std::shared_ptr<node::Socket> socket;      // socket of a connect in progress
        bool dialing = false;
        bool draining = false;  // it said leaving: no new requests until a new link is up
        std::deque<QueuedEnvelope> queue;
        node::Backoff backoff;
        std::chrono::steady_clock::time_point retry_at{};
    };

    Peer& peer(std::uint32_t node_id);
    void enqueue(std::uint32_t node_id, Peer& peer, QueuedEnvelope item);
    void dial(std::uint32_t node_id, Peer& peer);
    asio::awaitable<void> connect(std::uint32_t node_id, std::shared_ptr<node::Socket> socket);
    /// Marks a node unreachable until a dial reaches it, and re-routes or fails what waited.
    /// `expected`: it left in a drain, which is worth an info line, not a warning.
    void on_dial_failed(std::uint32_t node_id, const std::string& reason, bool expected = false);
    void flush_queue(Peer& peer, Link& link);
    /// Empties `peer`'s queue (its payloads no longer count as buffered memory).
    std::deque<QueuedEnvelope> take_queue(Peer& peer);
    void fail_queue(std::deque<QueuedEnvelope> queue, std::string_view code,
                    const std::string& why);

    NodeShard& shard_;
    std::unordered_map<std::uint32_t, Peer> peers_;
    bool closing_ = false;
};

}  // namespace dinx::cluster
