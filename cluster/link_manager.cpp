#include "cluster/link_manager.hpp"

#include "cluster/error_frame.hpp"
#include "cluster/node_shard.hpp"
#include "node/spawn.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace dinx::cluster {
namespace {

using Clock = std::chrono::steady_clock;

// While the process is over its memory budget, a link with more unsent than this takes no new
// requests (they get `overloaded`).
constexpr std::size_t pressure_link_queue = 1 << 20;

QueuedEnvelope make_queued(const Envelope& envelope, std::optional<PendingRequest> pending,
                           RetryGroup retry) {
    QueuedEnvelope item{envelope, ByteBuffer(envelope.payload.begin(), envelope.payload.end()),
                        std::move(pending), retry};
    item.envelope.payload = {};
    return item;
}

}  // namespace

LinkManager::LinkManager(NodeShard& shard) : shard_(shard) {}

LinkManager::Peer& LinkManager::peer(std::uint32_t node_id) {
    auto it = peers_.find(node_id);
    if (it != peers_.end()) return it->second;
    const auto& settings = shard_.topology().settings();
    node::Backoff backoff{std::chrono::milliseconds(settings.reconnect_min_ms),
                          std::chrono::milliseconds(settings.reconnect_max_ms)};
    return peers_.emplace(node_id, Peer{backoff}).first->second;
}

bool LinkManager::is_live(std::uint32_t node_id) {
    auto it = peers_.find(node_id);
    if (it == peers_.end()) return true;
    Peer& p = it->second;
    if (p.draining) return false;
    if (!p.links.empty() || p.backoff.failures() == 0) return true;
    // A node whose last dial failed is skipped until a dial in the background reaches it again,
    // so no request waits on a connect to a node that is probably still down.
    if (!p.dialing && !closing_ && Clock::now() >= p.retry_at) dial(node_id, p);
    return false;
}

void LinkManager::send(std::uint32_t node_id, const Envelope& envelope) {
    if (closing_) return;
    Peer& p = peer(node_id);
    if (!p.links.empty()) {
        p.links.front()->send(envelope);
        return;
    }
    if (!p.dialing && Clock::now() < p.retry_at) {
        shard_.log().debug("dropped an envelope for unreachable node {}",
                           shard_.node_name(node_id));
        return;
    }
    enqueue(node_id, p, make_queued(envelope, std::nullopt, RetryGroup{}));
}

void LinkManager::send_request(std::uint32_t node_id, Envelope request, PendingRequest pending,
                               RetryGroup retry) {
    if (closing_) {
        shard_.fail_request(pending, Error::unavailable, "the node is stopping");
        return;
    }
    Peer& p = peer(node_id);
    if (p.draining) {
        // It acknowledged its drain: a request now could arrive after it stopped listening.
        shard_.fail_request(pending, Error::unavailable,
                            "node " + shard_.node_name(node_id) + " is leaving");
        return;
    }
    if (!p.links.empty()) {
        Link& link = *p.links.front();
        // A peer that does not keep up gets no more work piled on it: the client hears at once.
        if (is_overloaded(node_id)) {
            shard_.fail_request(pending, Error::overloaded,
                                "node " + shard_.node_name(node_id) + " does not keep up");
            return;
        }
        link.send_request(request, std::move(pending));
        return;
    }
    if (!p.dialing && Clock::now() < p.retry_at) {
        shard_.fail_request(pending, Error::unavailable,
                            "node " + shard_.node_name(node_id) + " is unreachable");
        return;
    }
    enqueue(node_id, p, make_queued(request, std::move(pending), retry));
}

void LinkManager::enqueue(std::uint32_t node_id, Peer& p, QueuedEnvelope item) {
    // Queued payloads are memory: past the budget nothing more waits for a dial.
    if (p.queue.size() >= shard_.topology().settings().link_queue_limit ||
        shard_.budget()->over()) {
        if (item.pending)
            shard_.fail_request(*item.pending, Error::overloaded,
                                "too many requests wait for node " + shard_.node_name(node_id));
        return;
    }
    shard_.account().charge(static_cast<std::int64_t>(item.payload.size()));
    p.queue.push_back(std::move(item));
    if (!p.dialing) dial(node_id, p);
}

std::deque<QueuedEnvelope> LinkManager::take_queue(Peer& p) {
    auto queue = std::exchange(p.queue, {});
    std::int64_t bytes = 0;
    for (const auto& item : queue) bytes += static_cast<std::int64_t>(item.payload.size());
    shard_.account().charge(-bytes);
    return queue;
}

void LinkManager::dial(std::uint32_t node_id, Peer& p) {
    p.dialing = true;
    p.socket = std::make_shared<node::Socket>(shard_.io());
    node::spawn_detached(shard_.executor(), connect(node_id, p.socket),
                         "dial of node " + std::to_string(node_id));
}

asio::awaitable<void> LinkManager::connect(std::uint32_t node_id,
                                           std::shared_ptr<node::Socket> socket) {
    auto address = shard_.addresses().link_address(node_id);
    auto timeout = std::chrono::milliseconds(shard_.topology().settings().connect_timeout_ms);
    std::error_code error = asio::error::host_not_found;
    if (address) error = co_await node::dial(*socket, address->host, address->port, timeout);
    if (closing_) co_return;
    Peer& p = peer(node_id);
    p.socket.reset();
    if (error) {
        on_dial_failed(node_id, error.message());
        co_return;
    }
    p.handshaking = std::make_shared<Link>(shard_, std::move(*socket), shard_.link_limits(),
                                           Link::Role::dialed, node_id);
    p.handshaking->begin(timeout);
}

void LinkManager::on_dial_failed(std::uint32_t node_id, const std::string& reason, bool expected) {
    Peer& p = peer(node_id);
    p.dialing = false;
    auto delay = p.backoff.next_delay();
    p.retry_at = Clock::now() + delay;
    auto queue = take_queue(p);
    if (expected)
        shard_.log().info("node {} left ({}); next dial in {} ms", shard_.node_name(node_id),
                          reason, delay.count());
    else
        shard_.log().warn(
            "cannot reach node {}: {}; {} queued envelopes affected, next dial in {} ms",
            shard_.node_name(node_id), reason, queue.size(), delay.count());
    for (auto& item : queue) {
        if (!item.pending) continue;  // replies and pushes for an unreachable node are lost
        if (item.retry.group) {
            item.envelope.payload = item.payload;
            shard_.route_request(*item.retry.group, item.envelope, std::move(*item.pending),
                                 item.retry.avoid);
        } else {
            shard_.fail_request(*item.pending, Error::unavailable,
                                "node " + shard_.node_name(node_id) + " is unreachable: " + reason);
        }
    }
}

void LinkManager::adopt(const std::shared_ptr<Link>& link) {
    if (closing_) {
        link->close("the node is stopping");
        return;
    }
    Peer& p = peer(link->peer_id());
    if (p.handshaking == link) {
        p.handshaking.reset();
        p.dialing = false;
    }
    p.links.push_back(link);
    p.backoff.reset();
    p.retry_at = {};
    p.draining = false;  // a new link: a restarted node (a draining one sends leaving again)
    flush_queue(p, *link);
}

bool LinkManager::is_overloaded(std::uint32_t node_id) const {
    auto it = peers_.find(node_id);
    if (it == peers_.end() || it->second.links.empty()) return false;
    auto queued = it->second.links.front()->queued_bytes();
    // Past the memory budget a link takes a burst, not a backlog.
    return queued > shard_.topology().settings().link_queue_bytes ||
           (queued > pressure_link_queue && shard_.budget()->over());
}

void LinkManager::mark_draining(std::uint32_t node_id) {
    peer(node_id).draining = true;
}

bool LinkManager::queues_empty() const {
    for (const auto& [id, p] : peers_)
        if (!p.queue.empty()) return false;
    return true;
}

void LinkManager::flush_queue(Peer& p, Link& link) {
    auto queue = take_queue(p);
    for (auto& item : queue) {
        item.envelope.payload = item.payload;
        if (item.pending)
            link.send_request(item.envelope, std::move(*item.pending));
        else
            link.send(item.envelope);
    }
}

void LinkManager::forget(Link& link) {
    auto it = peers_.find(link.peer_id());
    if (it != peers_.end()) {
        Peer& p = it->second;
        std::erase_if(p.links, [&](const auto& l) { return l.get() == &link; });
        if (p.handshaking.get() == &link) {
            p.handshaking.reset();
            if (!closing_)
                on_dial_failed(link.peer_id(), "handshake failed: " + link.close_reason());
        } else if ((link.declared_dead() || p.draining) && !closing_ && p.links.empty()) {
            // A peer that stopped answering, or left, is skipped until a dial reaches it again.
            bool left = p.draining;
            p.draining = false;
            on_dial_failed(link.peer_id(), link.close_reason(), left);
        }
    }
    // In the order the requests were sent, so each client sees its errors in order. A request
    // the peer's TCP acknowledged may have run; only the others are surely `unavailable`.
    auto ordered = link.take_pending();
    if (ordered.empty()) return;
    auto why = "link to node " + shard_.node_name(link.peer_id()) + " lost: " + link.close_reason();
    for (auto& [seq, request] : ordered) {
        if (link.never_sent(request))
            shard_.fail_request(request, Error::unavailable,
                                why + " before the peer received the request");
        else
            shard_.fail_request(request, Error::outcome_unknown,
                                why + " after the request was sent; it may have run");
    }
}

void LinkManager::close_all() {
    closing_ = true;
    for (auto& [id, p] : peers_) {
        std::error_code ignored;
        if (p.socket) p.socket->close(ignored);
        if (p.handshaking) p.handshaking->close("the node is stopping");
        for (auto& link : std::vector(p.links)) link->close("the node is stopping");
        take_queue(p);
    }
}

}  // namespace dinx::cluster
