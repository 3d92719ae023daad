#include "cluster/node_shard.hpp"

#include "cluster/balancer.hpp"
#include "cluster/context.hpp"
#include "cluster/error_frame.hpp"
#include "cluster/node.hpp"

#include <algorithm>
#include <memory>

namespace dinx::cluster {

NodeShard::NodeShard(Node& node, std::size_t index, asio::io_context& io)
    : node_(node),
      index_(index),
      io_(io),
      links_(*this),
      own_group_(node.topology().group(node.info().group)),
      heartbeat_(io, [this] { heartbeat_links(); }),
      idle_check_(io, [this] { check_idle_clients(); }),
      drain_check_(io, [this] { check_drained(); }) {}

NodeShard::~NodeShard() = default;

const dict::NodeInfo& NodeShard::info() const {
    return node_.info();
}

std::uint32_t NodeShard::node_id() const {
    return node_.info().id;
}

std::string NodeShard::node_name(std::uint32_t id) const {
    const auto* info = topology().node(id);
    if (info) return info->name;
    std::string unknown = "#";  // (not "#" + ...: g++ 12 -O3 warns falsely on that)
    return unknown + std::to_string(id);
}

bool NodeShard::is_cluster_node(std::uint32_t id) const {
    return topology().node(id) != nullptr;
}

const Topology& NodeShard::topology() const {
    return node_.topology();
}

AddressBook& NodeShard::addresses() {
    return node_.addresses();
}

spdlog::logger& NodeShard::log() {
    return node_.log();
}

node::ConnectionLimits NodeShard::link_limits() const {
    // A link is not a slow player: its queue may hold a burst for a whole gate.
    // A peer that lets 64 MiB pile up is not reading: dropping the link fails its requests
    // fast instead of growing without bound.
    return {static_cast<std::uint32_t>(max_envelope_payload + max_envelope_header), 64u << 20};
}

std::size_t NodeShard::shard_of(std::uint64_t conn_id) const {
    return static_cast<std::size_t>((conn_id - 1) % node_.shard_count());
}

// --- connections -----------------------------------------------------------------------------

void NodeShard::accept_client(node::Socket socket) {
    if (stopping_) return;
    if (!node_.admit_client()) {
        refuse_client(socket);
        return;
    }
    // Ids encode their shard, so a reply for a connection goes straight to its thread.
    std::uint64_t conn_id = next_conn_seq_++ * node_.shard_count() + index_ + 1;
    const auto& settings = topology().settings();
    auto session = std::make_shared<ClientSession>(
        *this, std::move(socket),
        node::ConnectionLimits{settings.max_packet_size, settings.client_send_queue_bytes},
        conn_id);
    sessions_.emplace(conn_id, session);
    log().debug("client {} connected from {}", conn_id, session->remote());
    session->start();
}

void NodeShard::accept_link(node::Socket socket) {
    if (stopping_) return;
    auto link =
        std::make_shared<Link>(*this, std::move(socket), link_limits(), Link::Role::accepted, 0);
    accepted_links_.emplace(link.get(), link);
    link->begin(std::chrono::milliseconds(topology().settings().connect_timeout_ms));
}

void NodeShard::on_client_frame(ClientSession& session, std::uint32_t msg_id, Bytes payload) {
    // A zinx heartbeat proves the client is there (reading it did that) and is answered in kind:
    // a zinx client stops a connection on which nothing arrived for HeartbeatMax (10 s).
    if (msg_id == topology().settings().heartbeat_msg_id) {
        session.send(msg_id, payload);
        return;
    }
    const Group* group = topology().route(msg_id);
    if (!group) {
        send_error(node_id(), session.conn_id(), msg_id, error_code::no_route,
                   "no group handles msg_id " + std::to_string(msg_id));
        return;
    }
    if (group == own_group_) {
        if (on_drained_) {
            refuse(session, *group, msg_id, Refusal::stopping);
            return;
        }
        Context ctx(*this, session, msg_id);
        run_handler(ctx, payload);
        return;
    }
    route_client_request(session, *group, msg_id, payload);
}

// See route_pin.hpp for why a client's requests may be held.
void NodeShard::route_client_request(ClientSession& session, const Group& group,
                                     std::uint32_t msg_id, Bytes payload) {
    RoutePin& pin = session.pin_for(&group);
    auto refusal = on_drained_ ? Refusal::stopping : Refusal::none;
    // Behind earlier requests that cannot be followed yet (their node left, died or is full,
    // or this gate stops), this one waits its turn: even an error must not overtake them.
    bool blocked = pin.in_flight > 0 && (refusal != Refusal::none || !links_.is_live(pin.node) ||
                                         links_.is_overloaded(pin.node));
    if (!pin.held.empty() || blocked) {
        if (pin.held.size() >= max_held_requests) refusal = Refusal::overloaded;
        pin.held.push_back(
            {msg_id,
             refusal == Refusal::none ? ByteBuffer(payload.begin(), payload.end()) : ByteBuffer{},
             refusal});
        return;
    }
    if (refusal != Refusal::none) {
        refuse(session, group, msg_id, refusal);
        return;
    }
    if (pin.in_flight == 0) {
        auto target = pick_node(group, sticky_key(node_id(), session.conn_id()), std::nullopt);
        if (!target) {
            send_error(node_id(), session.conn_id(), msg_id, error_code::unavailable,
                       "no node of group " + group.name + " is reachable");
            return;
        }
        pin.node = *target;
    }
    ++pin.in_flight;
    Envelope request{EnvelopeKind::request, 0, session.origin(), msg_id, 0, payload};
    PendingRequest pending{node_id(), session.conn_id(), msg_id, {}, 0, &group, true};
    links_.send_request(pin.node, std::move(request), std::move(pending), RetryGroup{&group, {}});
}

void NodeShard::on_client_request_finished(const PendingRequest& request) {
    if (!request.pinned || request.gate_id != node_id()) return;
    auto* session = find_session(request.conn_id);
    auto* pin = session ? session->find_pin(request.group) : nullptr;
    if (!pin || pin->in_flight == 0) return;
    if (--pin->in_flight > 0 || pin->held.empty()) return;
    // The line moves: route what waited, in order (it may have to wait again).
    auto held = std::exchange(pin->held, {});
    const Group& group = *request.group;
    for (auto& next : held) {
        if (next.refusal == Refusal::none) {
            route_client_request(*session, group, next.msg_id, next.payload);
            continue;
        }
        // A refused request is answered when its turn comes: nothing earlier may still be in
        // flight or waiting.
        RoutePin& now = session->pin_for(&group);
        if (now.in_flight == 0 && now.held.empty())
            refuse(*session, group, next.msg_id, next.refusal);
        else
            now.held.push_back(std::move(next));
    }
}

void NodeShard::refuse(ClientSession& session, const Group& group, std::uint32_t msg_id,
                       Refusal refusal) {
    if (refusal == Refusal::overloaded)
        send_error(node_id(), session.conn_id(), msg_id, error_code::overloaded,
                   "too many requests wait for group " + group.name);
    else
        send_error(node_id(), session.conn_id(), msg_id, error_code::unavailable,
                   "the gate is stopping");
}

void NodeShard::refuse_client(node::Socket& socket) {
    std::error_code ignored;
    socket.close(ignored);
    ++refused_clients_;
    // One line per second at most: a flood of connections must not become a flood of logs.
    auto now = std::chrono::steady_clock::now();
    if (now - last_refusal_log_ < std::chrono::seconds(1)) return;
    log().warn("max_connections ({}) reached: closed {} new client connection(s)",
               topology().settings().max_connections, refused_clients_);
    last_refusal_log_ = now;
    refused_clients_ = 0;
}

void NodeShard::on_client_closed(ClientSession& session) {
    node_.release_client();
    // Closing a client ourselves means it broke a rule (oversized frame, unread replies): say so.
    bool worth_a_warning = session.closed_locally() && !stopping_ && !session.closed_for_idleness();
    log().log(worth_a_warning ? spdlog::level::warn : spdlog::level::debug,
              "client {} ({}) closed: {}", session.conn_id(), session.remote(),
              session.close_reason());
    sessions_.erase(session.conn_id());
}

void NodeShard::on_link_ready(const std::shared_ptr<Link>& link) {
    if (on_drained_) link->send_leaving();  // a link that came up during our drain
    log().debug("link {} node {} ({}) is up", link->role() == Link::Role::dialed ? "to" : "from",
                node_name(link->peer_id()), link->remote());
    links_.adopt(link);
}

void NodeShard::on_link_envelope(Link& link, const Envelope& envelope) {
    switch (envelope.kind) {
        case EnvelopeKind::request:
            on_request(link, envelope);
            break;
        case EnvelopeKind::to_client:
            deliver(envelope.origin.gate_id, envelope.origin.conn_id, envelope.msg_id,
                    envelope.payload);
            if (envelope.seq != 0) on_finished(link, envelope.seq);
            break;
        case EnvelopeKind::done:
            on_finished(link, envelope.seq);
            break;
        case EnvelopeKind::broadcast:
            broadcast_here(envelope.msg_id, envelope.payload);
            break;
        case EnvelopeKind::session:
            update_session(envelope.origin.gate_id, envelope.origin.conn_id, envelope.origin.uid);
            break;
        case EnvelopeKind::ping:
            break;  // hearing it is all it is for
        case EnvelopeKind::leaving:
            // FIFO: every request we sent before this ack reaches the peer before it.
            links_.mark_draining(link.peer_id());
            link.send(Envelope{EnvelopeKind::leaving_ack, 0, {}, 0, node_id(), {}});
            break;
        case EnvelopeKind::leaving_ack:
            link.on_leaving_ack();
            break;
        case EnvelopeKind::hello:
        case EnvelopeKind::challenge:
        case EnvelopeKind::proof:
        case EnvelopeKind::hello_ack:
            break;  // Link handles the handshake
    }
}

void NodeShard::on_link_closed(Link& link) {
    if (link.is_ready() || link.role() == Link::Role::dialed)
        log().log(stopping_ ? spdlog::level::debug : spdlog::level::info,
                  "link {} node {} closed: {}", link.role() == Link::Role::dialed ? "to" : "from",
                  node_name(link.peer_id()), link.close_reason());
    else if (link.closed_locally())  // it broke the handshake; a bare port probe is no news
        log().warn("refused link from {}: {}", link.remote(), link.close_reason());
    accepted_links_.erase(&link);
    links_.forget(link);
}

// Links tick twice per heartbeat interval and die after 5 silent ticks: between 2.5 and 3
// intervals after the last frame heard, while a live peer, pinging every tick when idle,
// is heard at least every tick or two.
namespace {
constexpr int ticks_per_heartbeat = 2;
constexpr int silent_ticks_to_die = 5;
// Idle clients are checked at least 4 times per timeout, at most once a second.
constexpr std::chrono::milliseconds max_idle_tick{1000};
constexpr std::chrono::milliseconds min_tick{5};

std::chrono::milliseconds heartbeat_tick(const dict::Settings& settings) {
    return std::max(
        min_tick, std::chrono::milliseconds(settings.heartbeat_interval_ms / ticks_per_heartbeat));
}

std::chrono::milliseconds idle_tick(const dict::Settings& settings) {
    return std::clamp(std::chrono::milliseconds(settings.client_idle_timeout_ms / 4), min_tick,
                      max_idle_tick);
}
}  // namespace

void NodeShard::start_timers() {
    heartbeat_.start(heartbeat_tick(topology().settings()));
    if (info().is_frontend()) idle_check_.start(idle_tick(topology().settings()));
}

void NodeShard::heartbeat_links() {
    auto tick = heartbeat_tick(topology().settings());
    links_.for_each_link([&](Link& link) { link.heartbeat_tick(silent_ticks_to_die, tick); });
}

void NodeShard::check_idle_clients() {
    const auto& settings = topology().settings();
    auto tick = idle_tick(settings);
    auto limit =
        static_cast<int>((settings.client_idle_timeout_ms + tick.count() - 1) / tick.count());
    for (auto& [id, session] : sessions_) session->idle_tick(limit, tick);
}

// How often a drain looks whether it is done: short, a drain is normally over in milliseconds.
constexpr std::chrono::milliseconds drain_check_period{5};

void NodeShard::begin_drain(std::function<void()> on_drained) {
    on_drained_ = std::move(on_drained);
    // What clients sent before now is owed an answer, even if it is still in the kernel; what
    // they send later is answered too while we wait, but may be cut off when we close.
    for (auto& [id, session] : sessions_) session->mark_owed_bytes();
    links_.for_each_link([](Link& link) { link.send_leaving(); });
    drain_check_.start(drain_check_period);
}

bool NodeShard::drained() {
    bool done = links_.queues_empty();
    links_.for_each_link([&](Link& link) { done = done && link.drained(); });
    for (auto& [id, session] : sessions_)
        done = done && session->queued_bytes() == 0 && session->read_owed_bytes();
    return done;
}

void NodeShard::check_drained() {
    if (!on_drained_ || !drained()) return;
    drain_check_.stop();
    std::exchange(on_drained_, nullptr)();
}

void NodeShard::close_all() {
    stopping_ = true;
    heartbeat_.stop();
    idle_check_.stop();
    drain_check_.stop();
    on_drained_ = nullptr;
    links_.close_all();
    for (auto& [link, owner] : accepted_links_) owner->close("the node is stopping");
    for (auto& [id, session] : sessions_) session->close("the node is stopping");
}

// --- the message path ------------------------------------------------------------------------

void NodeShard::run_handler(Context& ctx, Bytes payload) {
    const Handler* handler = node_.handlers().find(ctx.msg_id());
    if (!handler) {
        ctx.fail(error_code::no_handler, "node " + info().name + " has no handler for msg_id " +
                                             std::to_string(ctx.msg_id()));
    } else {
        try {
            (*handler)(ctx, payload);
        } catch (const std::exception& error) {
            log().error("handler of msg_id {} threw: {}", ctx.msg_id(), error.what());
            ctx.fail(error_code::handler_error, "the handler failed");
        }
    }
    ctx.finish();
}

void NodeShard::on_request(Link& link, const Envelope& request) {
    Context ctx(*this, link, request);
    run_handler(ctx, request.payload);
}

void NodeShard::on_finished(Link& link, std::uint64_t seq) {
    auto request = link.finish(seq);
    if (!request) return;
    on_client_request_finished(*request);
    if (auto upstream = request->upstream.lock())
        upstream->send(Envelope{EnvelopeKind::done, request->upstream_seq, {}, 0, 0, {}});
}

ClientSession* NodeShard::find_session(std::uint64_t conn_id) {
    auto it = sessions_.find(conn_id);
    return it == sessions_.end() ? nullptr : it->second.get();
}

void NodeShard::deliver(std::uint32_t gate_id, std::uint64_t conn_id, std::uint32_t msg_id,
                        Bytes payload) {
    if (gate_id != node_id()) {
        links_.send(gate_id, Envelope{EnvelopeKind::to_client, 0, Origin{gate_id, conn_id, {}},
                                      msg_id, 0, payload});
        return;
    }
    if (conn_id == 0) return;
    auto target = shard_of(conn_id);
    if (target == index_) {
        deliver_here(conn_id, msg_id, payload);
        return;
    }
    node_.post_to(target, [conn_id, msg_id, data = ByteBuffer(payload.begin(), payload.end())](
                              NodeShard& shard) { shard.deliver_here(conn_id, msg_id, data); });
}

void NodeShard::deliver_here(std::uint64_t conn_id, std::uint32_t msg_id, Bytes payload) {
    if (auto* session = find_session(conn_id))
        session->send(msg_id, payload);
    else
        log().debug("client {} is gone; dropped msg_id {}", conn_id, msg_id);
}

void NodeShard::update_session(std::uint32_t gate_id, std::uint64_t conn_id,
                               const std::string& uid) {
    if (gate_id != node_id()) {
        links_.send(gate_id,
                    Envelope{EnvelopeKind::session, 0, Origin{gate_id, conn_id, uid}, 0, 0, {}});
        return;
    }
    if (conn_id == 0) return;
    auto target = shard_of(conn_id);
    if (target == index_) {
        if (auto* session = find_session(conn_id)) session->set_uid(uid);
        return;
    }
    node_.post_to(target, [gate_id, conn_id, uid](NodeShard& shard) {
        shard.update_session(gate_id, conn_id, uid);
    });
}

void NodeShard::broadcast(std::uint32_t msg_id, Bytes payload) {
    for (auto gate_id : topology().frontends()) {
        if (gate_id == node_id())
            broadcast_here(msg_id, payload);
        else
            links_.send(gate_id, Envelope{EnvelopeKind::broadcast, 0, {}, msg_id, 0, payload});
    }
}

void NodeShard::broadcast_here(std::uint32_t msg_id, Bytes payload) {
    auto data = std::make_shared<const ByteBuffer>(payload.begin(), payload.end());
    for (std::size_t i = 0; i < node_.shard_count(); ++i) {
        node_.post_to(i, [msg_id, data](NodeShard& shard) {
            for (auto& [id, session] : shard.sessions_) session->send(msg_id, *data);
        });
    }
}

std::optional<std::uint32_t> NodeShard::pick_node(const Group& group, std::uint64_t key,
                                                  std::optional<std::uint32_t> avoid) {
    return cluster::pick_node(
        group.nodes, key, [this](std::uint32_t id) { return links_.is_live(id); }, avoid);
}

void NodeShard::route_request(const Group& group, Envelope request, PendingRequest pending,
                              std::optional<std::uint32_t> avoid) {
    auto target =
        pick_node(group, sticky_key(request.origin.gate_id, request.origin.conn_id), avoid);
    if (!target) {
        fail_request(pending, error_code::unavailable,
                     "no node of group " + group.name + " is reachable");
        return;
    }
    links_.send_request(*target, std::move(request), std::move(pending), RetryGroup{&group, avoid});
}

void NodeShard::send_request(std::uint32_t node_id, Envelope request, PendingRequest pending) {
    links_.send_request(node_id, std::move(request), std::move(pending), RetryGroup{});
}

void NodeShard::fail_request(const PendingRequest& request, std::string_view code,
                             const std::string& why) {
    send_error(request.gate_id, request.conn_id, request.msg_id, code, why);
    on_client_request_finished(request);
    if (auto upstream = request.upstream.lock())
        upstream->send(Envelope{EnvelopeKind::done, request.upstream_seq, {}, 0, 0, {}});
}

void NodeShard::send_error(std::uint32_t gate_id, std::uint64_t conn_id, std::uint32_t msg_id,
                           std::string_view code, const std::string& why) {
    auto body = error_payload(msg_id, code, why);
    deliver(gate_id, conn_id, topology().settings().error_msg_id, as_bytes(body));
}

}  // namespace dinx::cluster
