#include "cluster/link/link_table.hpp"

#include "cluster/rpc/request_sink.hpp"
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
                        ByteBuffer(envelope.values.begin(), envelope.values.end()),
                        std::move(pending), retry};
    item.envelope.payload = {};
    item.envelope.values = {};
    return item;
}

}  // namespace

std::string_view to_string(PeerState state) {
    switch (state) {
        case PeerState::idle:
            return "idle";
        case PeerState::dialing:
            return "dialing";
        case PeerState::up:
            return "up";
        case PeerState::leaving:
            return "draining";
        case PeerState::unreachable:
            return "down";
    }
    return "unknown";
}

std::vector<PeerStats> LinkTable::peer_stats() const {
    std::vector<PeerStats> stats;
    for (const auto& [id, p] : peers_) {
        PeerStats peer{id, to_string(p.state), 0, p.queue.size(), 0, p.dials, p.dial_failures,
                       p.handshake_failures, p.dropped};
        for (const auto& link : p.links) {
            peer.in_flight += link->pending_count();
            peer.unsent_bytes += link->transport().queued_bytes();
        }
        stats.push_back(peer);
    }
    return stats;
}

LinkTable::LinkTable(ShardContext& context, const LinkSetup& setup, RequestSink& sink)
    : context_(context), setup_(setup), sink_(sink) {}

LinkTable::Peer& LinkTable::peer(std::uint32_t node_id) {
    auto it = peers_.find(node_id);
    if (it != peers_.end()) return it->second;
    const auto& settings = context_.settings();
    node::Backoff backoff{std::chrono::milliseconds(settings.reconnect_min_ms),
                          std::chrono::milliseconds(settings.reconnect_max_ms)};
    return peers_.emplace(node_id, Peer{backoff}).first->second;
}

bool LinkTable::backing_off(const Peer& p) const {
    return p.state == PeerState::unreachable && Clock::now() < p.retry_at;
}

bool LinkTable::is_live(std::uint32_t node_id) {
    auto it = peers_.find(node_id);
    if (it == peers_.end()) return true;
    Peer& p = it->second;
    switch (p.state) {
        case PeerState::idle:
        case PeerState::up:
            return true;
        case PeerState::leaving:
            return false;
        case PeerState::dialing:
            // A first dial: requests wait for it. A dial again after a failure: they go elsewhere.
            return p.backoff.failures() == 0;
        case PeerState::unreachable:
            // Skipped until a dial in the background reaches it again, so no request waits on a
            // connect to a node that is probably still down.
            if (!closing_ && !backing_off(p)) dial(node_id, p);
            return false;
    }
    return false;
}

void LinkTable::send(std::uint32_t node_id, const Envelope& envelope) {
    if (closing_) return;
    Peer& p = peer(node_id);
    if (!p.links.empty()) {
        p.links.front()->send(envelope);
        return;
    }
    if (backing_off(p)) {
        ++p.dropped;
        context_.log.debug("dropped an envelope for unreachable node {}",
                           context_.node_name(node_id));
        return;
    }
    enqueue(node_id, p, make_queued(envelope, std::nullopt, RetryGroup{}));
}

std::shared_ptr<Link> LinkTable::ready_link(std::uint32_t node_id) {
    auto it = peers_.find(node_id);
    if (it == peers_.end() || it->second.links.empty()) return nullptr;
    return it->second.links.front();
}

void LinkTable::connect(std::uint32_t node_id) {
    if (closing_) return;
    Peer& p = peer(node_id);
    if (!p.links.empty() || p.state == PeerState::dialing || backing_off(p)) return;
    dial(node_id, p);
}

void LinkTable::send_request(std::uint32_t node_id, Envelope request, PendingRequest pending,
                             RetryGroup retry) {
    if (closing_) {
        sink_.fail(pending, Error::unavailable, "the node is stopping");
        return;
    }
    Peer& p = peer(node_id);
    if (p.state == PeerState::leaving) {
        // It acknowledged its drain: a request now could arrive after it stopped listening.
        sink_.fail(pending, Error::unavailable,
                   "node " + context_.node_name(node_id) + " is leaving");
        return;
    }
    if (!p.links.empty()) {
        // A peer that does not keep up gets no more work piled on it: the client hears at once.
        if (is_overloaded(node_id)) {
            context_.metrics.count_overloaded(OverloadCause::slow_peer);
            sink_.fail(pending, Error::overloaded,
                       "node " + context_.node_name(node_id) + " does not keep up");
            return;
        }
        p.links.front()->send_request(request, std::move(pending));
        return;
    }
    if (backing_off(p)) {
        sink_.fail(pending, Error::unavailable,
                   "node " + context_.node_name(node_id) + " is unreachable");
        return;
    }
    enqueue(node_id, p, make_queued(request, std::move(pending), retry));
}

void LinkTable::enqueue(std::uint32_t node_id, Peer& p, QueuedEnvelope item) {
    // Queued payloads are memory: past the budget nothing more waits for a dial.
    if (p.queue.size() >= context_.settings().link_queue_limit || context_.budget->over()) {
        if (!item.pending) ++p.dropped;
        if (item.pending) {
            context_.metrics.count_overloaded(context_.budget->over() ? OverloadCause::memory
                                                                      : OverloadCause::dial_queue);
            sink_.fail(*item.pending, Error::overloaded,
                       "too many requests wait for node " + context_.node_name(node_id));
        }
        return;
    }
    context_.account().charge(static_cast<std::int64_t>(item.payload.size()));
    if (item.pending) context_.drain.enter();  // until it is sent or failed
    p.queue.push_back(std::move(item));
    if (p.state != PeerState::dialing) dial(node_id, p);
}

std::deque<QueuedEnvelope> LinkTable::take_queue(Peer& p) {
    auto queue = std::exchange(p.queue, {});
    std::int64_t bytes = 0;
    for (const auto& item : queue) {
        bytes += static_cast<std::int64_t>(item.payload.size());
        if (item.pending) context_.drain.leave();
    }
    context_.account().charge(-bytes);
    return queue;
}

void LinkTable::dial(std::uint32_t node_id, Peer& p) {
    p.state = PeerState::dialing;
    ++p.dials;
    p.socket = std::make_shared<node::Socket>(context_.io);
    node::spawn_detached(context_.io.get_executor(), connect(node_id, p.socket),
                         "dial of node " + std::to_string(node_id));
}

asio::awaitable<void> LinkTable::connect(std::uint32_t node_id,
                                         std::shared_ptr<node::Socket> socket) {
    auto address = context_.addresses.link_address(node_id);
    auto timeout = std::chrono::milliseconds(context_.settings().connect_timeout_ms);
    std::error_code error = asio::error::host_not_found;
    if (address) error = co_await node::dial(*socket, address->host, address->port, timeout);
    if (closing_) co_return;
    Peer& p = peer(node_id);
    p.socket.reset();
    if (error) {
        on_dial_failed(node_id, error.message());
        co_return;
    }
    p.handshaking = std::make_shared<Link>(setup_, tcp_link_transport(setup_, std::move(*socket), Link::Role::dialed),
                                           Link::Role::dialed, node_id);
    p.handshaking->begin(timeout);
}

void LinkTable::on_dial_failed(std::uint32_t node_id, const std::string& reason, bool expected) {
    Peer& p = peer(node_id);
    p.state = PeerState::unreachable;
    ++p.dial_failures;
    auto delay = p.backoff.next_delay();
    p.retry_at = Clock::now() + delay;
    auto queue = take_queue(p);
    if (node_lost_) node_lost_(node_id, false, reason);
    if (expected)
        context_.log.info("node {} left ({}); next dial in {} ms", context_.node_name(node_id),
                          reason, delay.count());
    else
        context_.log.warn(
            "cannot reach node {}: {}; {} queued envelopes affected, next dial in {} ms",
            context_.node_name(node_id), reason, queue.size(), delay.count());
    for (auto& item : queue) {
        if (!item.pending) {  // pushes for an unreachable node are lost
            ++p.dropped;
            continue;
        }
        if (item.retry.group) {
            item.envelope.payload = item.payload;
            item.envelope.values = item.values;
            sink_.reroute(*item.retry.group, item.envelope, std::move(*item.pending),
                          item.retry.avoid);
        } else {
            sink_.fail(*item.pending, Error::unavailable,
                       "node " + context_.node_name(node_id) + " is unreachable: " + reason);
        }
    }
}

void LinkTable::adopt(const std::shared_ptr<Link>& link) {
    if (closing_) {
        link->close("the node is stopping");
        return;
    }
    Peer& p = peer(link->peer_id());
    if (p.handshaking == link) p.handshaking.reset();
    p.links.push_back(link);
    p.backoff.reset();
    p.retry_at = {};
    p.state = PeerState::up;  // a new link: a restarted node (a draining one sends leaving again)
    flush_queue(p, *link);
}

bool LinkTable::is_overloaded(std::uint32_t node_id) const {
    auto it = peers_.find(node_id);
    if (it == peers_.end() || it->second.links.empty()) return false;
    auto queued = it->second.links.front()->transport().queued_bytes();
    // Past the memory budget a link takes a burst, not a backlog.
    return queued > context_.settings().link_queue_bytes ||
           (queued > pressure_link_queue && context_.budget->over());
}

void LinkTable::mark_leaving(std::uint32_t node_id) {
    peer(node_id).state = PeerState::leaving;
}

void LinkTable::flush_queue(Peer& p, Link& link) {
    auto queue = take_queue(p);
    for (auto& item : queue) {
        item.envelope.payload = item.payload;
        item.envelope.values = item.values;
        if (item.pending)
            link.send_request(item.envelope, std::move(*item.pending));
        else
            link.send(item.envelope);
    }
}

void LinkTable::forget(Link& link) {
    auto it = peers_.find(link.peer_id());
    if (it != peers_.end()) {
        Peer& p = it->second;
        bool carried = std::erase_if(p.links, [&](const auto& l) { return l.get() == &link; }) > 0;
        if (p.handshaking.get() == &link) {
            p.handshaking.reset();
            ++p.handshake_failures;
            if (!closing_)
                on_dial_failed(link.peer_id(),
                               "handshake failed: " + link.transport().close_reason());
        } else if (p.links.empty() && !closing_) {
            // First: what went out on this link may have arrived, which outranks the dial
            // failure that follows.
            if (node_lost_ && carried)
                node_lost_(link.peer_id(), true, link.transport().close_reason());
            bool left = p.state == PeerState::leaving;
            // A peer that stopped answering, or left, is skipped until a dial reaches it again;
            // one whose link merely closed is dialed again at its next use.
            if (link.declared_dead() || left)
                on_dial_failed(link.peer_id(), link.transport().close_reason(), left);
            else if (p.state == PeerState::up)
                p.state = PeerState::idle;
        }
    }
    fail_pending(link);
}

// In the order the requests were sent, so each client sees its errors in order. A request the
// peer's TCP acknowledged may have run; only the others are surely `unavailable`.
void LinkTable::fail_pending(Link& link) {
    auto ordered = link.take_pending();
    if (ordered.empty()) return;
    auto why = "link to node " + context_.node_name(link.peer_id()) +
               " lost: " + link.transport().close_reason();
    for (auto& [seq, request] : ordered) {
        if (link.never_sent(request))
            sink_.fail(request, Error::unavailable, why + " before the peer received the request");
        else
            sink_.fail(request, Error::outcome_unknown,
                       why + " after the request was sent; it may have run");
    }
}

void LinkTable::close_all() {
    closing_ = true;
    for (auto& [id, p] : peers_) {
        std::error_code ignored;
        if (p.socket) p.socket->close(ignored);
        if (p.handshaking) p.handshaking->close("the node is stopping");
        // What is queued goes first: the last envelopes of a stopping node (its players'
        // disconnect events) are the ones its peers most need.
        for (auto& link : std::vector(p.links))
            link->transport().close_after_flush("the node is stopping");
        take_queue(p);
    }
}

}  // namespace dinx::cluster
