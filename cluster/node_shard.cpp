#include "cluster/node_shard.hpp"

#include "cluster/balancer.hpp"
#include "cluster/error_frame.hpp"
#include "cluster/node.hpp"
#include "cluster/request_context.hpp"

#include <algorithm>
#include <memory>

namespace dinx::cluster {
namespace {

using Clock = std::chrono::steady_clock;

// Before its handshake a link may send only handshake frames: a peer that has proven nothing
// must not make us buffer 16 MiB. The largest (a challenge) is under 200 bytes.
constexpr std::uint32_t handshake_frame_limit = 512;

// Accepted links whose handshake is not done yet, per io thread; the oldest goes first when
// another arrives. A real peer's handshake takes one round trip, so only a flood is cut.
constexpr std::size_t max_handshaking_links = 64;

// Broadcast payloads from this size on are queued by reference, not copied per client.
constexpr std::size_t share_from = 512;

// While the process is over its memory budget, a client with more than this unsent is closed.
constexpr std::size_t pressure_send_queue = 64 * 1024;

// Summaries of refused links and late answers: one line at most this often.
constexpr std::chrono::seconds summary_interval{5};

}  // namespace

NodeShard::NodeShard(Node& node, std::size_t index, asio::io_context& io)
    : node_(node),
      index_(index),
      io_(io),
      budget_(node.budget()),
      links_(*this),
      own_group_(node.topology().group(node.info().group)),
      guard_(node.unproven_count(index)),
      refused_links_("link connections refused before their handshake", summary_interval),
      heartbeat_(io, [this] { heartbeat_links(); }),
      client_check_(io, [this] { check_clients(); }),
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
    // fast instead of growing without bound. Until the handshake is done, frames are small.
    node::ConnectionLimits limits;
    limits.max_frame_len = handshake_frame_limit;
    limits.max_send_queue_bytes = 64u << 20;
    return limits;
}

std::size_t NodeShard::shard_of(std::uint64_t conn_id) const {
    return static_cast<std::size_t>((conn_id - 1) % node_.shard_count());
}

// --- connections -----------------------------------------------------------------------------

void NodeShard::accept_client(node::Socket socket) {
    if (stopping_) return;
    if (!node_.admit_client() && !make_room(socket)) return;
    start_client(std::move(socket));
}

void NodeShard::start_client(node::Socket socket) {
    // Ids encode their shard, so a reply for a connection goes straight to its thread.
    std::uint64_t conn_id = next_conn_seq_++ * node_.shard_count() + index_ + 1;
    const auto& settings = topology().settings();
    node::ConnectionLimits limits;
    limits.max_frame_len = settings.max_packet_size;
    limits.max_send_queue_bytes = settings.client_send_queue_bytes;
    // A client that does not read its replies is not read either (after a quarter of its queue).
    limits.pause_reading_above = settings.client_send_queue_bytes / 4;
    limits.pressure_send_queue_bytes = pressure_send_queue;
    auto session =
        std::make_shared<ClientSession>(*this, std::move(socket), limits, conn_id, Clock::now());
    sessions_.emplace(conn_id, session);
    guard_.track(conn_id);
    log().debug("client {} connected from {}", conn_id, session->remote());
    session->start();
}

// When the gate is full, connections that never completed a frame (silent, trickling) go first.
bool NodeShard::make_room(node::Socket& socket) {
    if (evict_unproven_client() && node_.admit_client()) return true;
    if (node_.evict_elsewhere(index_, std::move(socket), [this](node::Socket s) {
            accept_client_after_eviction(std::move(s));
        }))
        return false;
    refuse_client(socket);
    return false;
}

void NodeShard::accept_client_after_eviction(node::Socket socket) {
    if (stopping_) return;
    if (node_.admit_client())
        start_client(std::move(socket));
    else
        refuse_client(socket);  // another new client took the room first
}

bool NodeShard::evict_unproven_client() {
    auto oldest = guard_.oldest_unproven();
    if (!oldest) return false;
    guard_.forget(*oldest);
    auto* session = find_session(*oldest);
    if (!session) return false;
    // Its place is free now, not when its close is reported.
    if (session->admitted()) {
        session->set_released();
        node_.release_client();
    }
    session->close("evicted: the gate is full and it never sent a complete frame",
                   "evicted to make room (never sent a complete frame)");
    return true;
}

void NodeShard::refuse_client(node::Socket& socket) {
    std::error_code ignored;
    auto remote = socket.remote_endpoint(ignored);
    guard_.note_refused("max_connections reached", remote.address().to_string());
    socket.close(ignored);
}

void NodeShard::accept_link(node::Socket socket) {
    if (stopping_) return;
    if (handshaking_links_.size() >= max_handshaking_links) {
        // Out of the table now: its close is reported later, and the next link must not count it.
        auto oldest = std::move(handshaking_links_.begin()->second);
        handshaking_links_.erase(handshaking_links_.begin());
        oldest->close("too many links are in their handshake", "evicted: too many handshakes");
    }
    auto link = std::make_shared<Link>(*this, std::move(socket), link_limits(),
                                       Link::Role::accepted, 0, next_link_seq_++);
    handshaking_links_.emplace(link->accept_seq(), link);
    link->begin(std::chrono::milliseconds(topology().settings().connect_timeout_ms));
}

void NodeShard::on_first_client_frame(ClientSession& session) {
    guard_.forget(session.conn_id());
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
        send_error(node_id(), session.conn_id(), msg_id, Error::no_route,
                   "no group handles msg_id " + std::to_string(msg_id));
        return;
    }
    if (group == own_group_) {
        if (on_drained_) {
            refuse(session, *group, msg_id, Refusal::stopping, 0);
            return;
        }
        RequestContext ctx(*this, session, msg_id);
        run_handler(ctx, payload);
        return;
    }
    session.begin_request(static_cast<std::uint32_t>(payload.size()));
    route_client_request(session, *group, msg_id, payload);
}

// See route_pin.hpp for why a client's requests may be held. The request is counted in the
// session's requests in flight (begin_request) until it is answered.
void NodeShard::route_client_request(ClientSession& session, const Group& group,
                                     std::uint32_t msg_id, Bytes payload) {
    RoutePin& pin = session.pin_for(&group);
    auto refusal = on_drained_ ? Refusal::stopping : Refusal::none;
    auto size = static_cast<std::uint32_t>(payload.size());
    // Behind earlier requests that cannot be followed yet (their node left, died or is full,
    // or this gate stops), this one waits its turn: even an error must not overtake them.
    bool blocked = pin.in_flight > 0 && (refusal != Refusal::none || !links_.is_live(pin.node) ||
                                         links_.is_overloaded(pin.node));
    if (!pin.held.empty() || blocked) {
        // Held payloads are memory: past the budget, the request is refused in its turn.
        if (pin.held.size() >= max_held_requests || (refusal == Refusal::none && budget_->over()))
            refusal = Refusal::overloaded;
        session.hold(pin, {msg_id,
                           refusal == Refusal::none ? ByteBuffer(payload.begin(), payload.end())
                                                    : ByteBuffer{},
                           refusal, size});
        return;
    }
    if (refusal != Refusal::none) {
        refuse(session, group, msg_id, refusal, size);
        return;
    }
    if (pin.in_flight == 0) {
        auto target = pick_node(group, sticky_key(node_id(), session.conn_id()), std::nullopt);
        if (!target) {
            send_error(node_id(), session.conn_id(), msg_id, Error::unavailable,
                       "no node of group " + group.name + " is reachable");
            session.end_request(size);
            return;
        }
        pin.node = *target;
    }
    ++pin.in_flight;
    Envelope request{EnvelopeKind::request, 0, session.origin(), msg_id, 0, payload};
    PendingRequest pending{node_id(), session.conn_id(), msg_id, {}, 0, &group, true};
    pending.counted = true;
    pending.payload_size = size;
    links_.send_request(pin.node, std::move(request), std::move(pending), RetryGroup{&group, {}});
}

void NodeShard::on_client_request_finished(const PendingRequest& request) {
    if (request.gate_id != node_id() || (!request.pinned && !request.counted)) return;
    auto* session = find_session(request.conn_id);
    if (!session) return;
    if (request.counted) session->end_request(request.payload_size);
    auto* pin = request.pinned ? session->find_pin(request.group) : nullptr;
    if (!pin || pin->in_flight == 0) return;
    if (--pin->in_flight > 0 || pin->held.empty()) return;
    release_held(*session, *request.group, *pin);
}

void NodeShard::release_held(ClientSession& session, const Group& group, RoutePin& pin) {
    // The line moves: route what waited, in order (it may have to wait again).
    for (auto& next : session.take_held(pin)) {
        if (next.refusal == Refusal::none) {
            route_client_request(session, group, next.msg_id, next.payload);
            continue;
        }
        // A refused request is answered when its turn comes: nothing earlier may still be in
        // flight or waiting.
        RoutePin& now = session.pin_for(&group);
        if (now.in_flight == 0 && now.held.empty())
            refuse(session, group, next.msg_id, next.refusal, next.size);
        else
            session.hold(now, std::move(next));
    }
}

void NodeShard::refuse(ClientSession& session, const Group& group, std::uint32_t msg_id,
                       Refusal refusal, std::uint32_t size) {
    if (refusal == Refusal::overloaded)
        send_error(node_id(), session.conn_id(), msg_id, Error::overloaded,
                   "too many requests wait for group " + group.name);
    else
        send_error(node_id(), session.conn_id(), msg_id, Error::unavailable,
                   "the gate is stopping");
    // Refusals of the gate's own group were never counted (they run no request).
    if (&group != own_group_) session.end_request(size);
}

void NodeShard::on_client_closed(ClientSession& session) {
    if (session.admitted()) {
        session.set_released();
        node_.release_client();
    }
    guard_.forget(session.conn_id());
    // A client closed for breaking a rule is summarised, never logged one line per client.
    if (!session.violation().empty() && !stopping_)
        guard_.note_violation(session.violation(),
                              session.remote() + ": " + session.close_reason());
    log().debug("client {} ({}) closed: {}", session.conn_id(), session.remote(),
                session.close_reason());
    sessions_.erase(session.conn_id());
}

void NodeShard::on_link_ready(const std::shared_ptr<Link>& link) {
    handshaking_links_.erase(link->accept_seq());
    if (on_drained_) link->send_leaving();  // a link that came up during our drain
    log().debug("link {} node {} ({}) is up", link->role() == Link::Role::dialed ? "to" : "from",
                node_name(link->peer_id()), link->remote());
    links_.adopt(link);
}

void NodeShard::on_link_closed(Link& link) {
    if (link.is_ready() || link.role() == Link::Role::dialed)
        log().log(stopping_ ? spdlog::level::debug : spdlog::level::info,
                  "link {} node {} closed: {}", link.role() == Link::Role::dialed ? "to" : "from",
                  node_name(link.peer_id()), link.close_reason());
    else if (link.closed_locally() && !stopping_)  // a bare port probe is no news
        refused_links_.add(link.violation().empty() ? "closed" : link.violation(),
                           link.remote() + ": " + link.close_reason());
    if (!link.is_ready() && link.closed_locally())
        log().debug("refused link from {}: {}", link.remote(), link.close_reason());
    handshaking_links_.erase(link.accept_seq());
    links_.forget(link);
}

// Links tick twice per heartbeat interval and die after 5 silent ticks: between 2.5 and 3
// intervals after the last frame heard, while a live peer, pinging every tick when idle,
// is heard at least every tick or two.
namespace {
constexpr int ticks_per_heartbeat = 2;
constexpr int silent_ticks_to_die = 5;
// Clients are checked at least 4 times per timeout, at most once a second.
constexpr std::chrono::milliseconds max_client_tick{1000};
constexpr std::chrono::milliseconds min_tick{5};

std::chrono::milliseconds heartbeat_tick(const dict::Settings& settings) {
    return std::max(
        min_tick, std::chrono::milliseconds(settings.heartbeat_interval_ms / ticks_per_heartbeat));
}

std::chrono::milliseconds client_tick(const dict::Settings& settings) {
    auto shortest = std::min({settings.client_idle_timeout_ms, settings.client_frame_timeout_ms,
                              settings.client_first_frame_timeout_ms});
    return std::clamp(std::chrono::milliseconds(shortest / 4), min_tick, max_client_tick);
}
}  // namespace

void NodeShard::start_timers() {
    heartbeat_.start(heartbeat_tick(topology().settings()));
    if (info().is_frontend()) client_check_.start(client_tick(topology().settings()));
}

void NodeShard::heartbeat_links() {
    auto tick = heartbeat_tick(topology().settings());
    links_.for_each_link([&](Link& link) { link.heartbeat_tick(silent_ticks_to_die, tick); });
    housekeeping();
}

void NodeShard::housekeeping() {
    auto now = Clock::now();
    refused_links_.log_if_due(log(), spdlog::level::warn, now);
    guard_.log_if_due(log(), now);
    auto late = late_answers();
    if (late != late_answers_logged_) {
        log().warn("dropped {} late answer(s) in all: their requests were answered already", late);
        late_answers_logged_ = late;
    }
    budget_->return_freed_memory();
}

void NodeShard::check_clients() {
    auto now = Clock::now();
    // (closing erases from sessions_: collect first)
    std::vector<std::shared_ptr<ClientSession>> all;
    all.reserve(sessions_.size());
    for (auto& [id, session] : sessions_) all.push_back(session);
    for (auto& session : all) session->check_timeouts(now);
    if (budget_->over()) reclaim_memory();
}

void NodeShard::reclaim_memory() {
    std::vector<std::shared_ptr<ClientSession>> hoarders;
    for (auto& [id, session] : sessions_)
        if (session->queued_bytes() > pressure_send_queue) hoarders.push_back(session);
    for (auto& session : hoarders)
        session->close("send queue of " + std::to_string(session->queued_bytes()) +
                           " bytes while the process is over its memory budget",
                       "did not read its replies while memory was short");
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
    client_check_.stop();
    drain_check_.stop();
    on_drained_ = nullptr;
    links_.close_all();
    auto handshaking = std::exchange(handshaking_links_, {});
    for (auto& [seq, link] : handshaking) link->close("the node is stopping");
    for (auto& [id, session] : sessions_) session->close("the node is stopping");
}

// --- the message path ------------------------------------------------------------------------

void NodeShard::run_handler(RequestContext& ctx, Bytes payload) {
    const Handler* handler = node_.handlers().find(ctx.msg_id());
    if (!handler) {
        ctx.fail(Error::no_handler, "node " + info().name + " has no handler for msg_id " +
                                        std::to_string(ctx.msg_id()));
    } else {
        try {
            (*handler)(ctx, payload);
        } catch (const std::exception& error) {
            log().error("handler of msg_id {} threw: {}", ctx.msg_id(), error.what());
            // One answer per request: a reply already sent stands.
            if (!ctx.answered()) ctx.fail(Error::handler_error, "the handler failed");
        }
    }
    ctx.finish();
}

void NodeShard::on_request(Link& link, const Envelope& request) {
    RequestContext ctx(*this, link, request);
    run_handler(ctx, request.payload);
}

void NodeShard::on_link_envelope(Link& link, const Envelope& envelope) {
    switch (envelope.kind) {
        case EnvelopeKind::request:
            on_request(link, envelope);
            break;
        case EnvelopeKind::to_client:
            if (envelope.seq != 0)
                on_answer(link, envelope, true);
            else
                deliver(envelope.origin.gate_id, envelope.origin.conn_id, envelope.msg_id,
                        envelope.payload);
            break;
        case EnvelopeKind::answer:
            on_answer(link, envelope, false);
            break;
        case EnvelopeKind::done:
            on_finished(link, envelope.seq);
            break;
        case EnvelopeKind::broadcast:
            broadcast_here(envelope.msg_id, envelope.payload);
            break;
        case EnvelopeKind::session:
            if (envelope.seq != 0)
                on_session_answer(link, envelope);
            else
                update_session(envelope.origin.gate_id, envelope.origin.conn_id,
                               envelope.origin.uid);
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

// Answers travel back the way their request came, link by link, and never any other way: a
// link this node closed (its peer was declared dead) delivers nothing more, and a request
// failed here is forgotten here, so no late answer can reach a client that already got one.
void NodeShard::on_answer(Link& link, const Envelope& answer, bool finishes) {
    PendingRequest* request = link.find_pending(answer.seq);
    if (!request) {
        note_late_answer();
        return;
    }
    request->answered = true;
    if (!finishes) {
        pass_answer(*request, answer.msg_id, answer.payload, false);
        return;
    }
    auto finished = link.finish(answer.seq);
    pass_answer(*finished, answer.msg_id, answer.payload, true);
    on_client_request_finished(*finished);
}

void NodeShard::on_session_answer(Link& link, const Envelope& update) {
    const PendingRequest* request = link.find_pending(update.seq);
    if (!request) {
        note_late_answer();
        return;
    }
    if (request->upstream_seq == 0) {
        update_session(update.origin.gate_id, update.origin.conn_id, update.origin.uid);
        return;
    }
    auto upstream = request->upstream.lock();
    if (!upstream || !upstream->is_open()) {
        note_late_answer();
        return;
    }
    Envelope relayed = update;
    relayed.seq = request->upstream_seq;
    upstream->send(relayed);
}

void NodeShard::pass_answer(const PendingRequest& request, std::uint32_t msg_id, Bytes payload,
                            bool finishes) {
    if (request.upstream_seq == 0) {
        // This node is the client's gate, or the request continues one answered already.
        deliver(request.gate_id, request.conn_id, msg_id, payload);
        return;
    }
    auto upstream = request.upstream.lock();
    if (!upstream || !upstream->is_open()) {
        note_late_answer();  // the node before us gave up on it: it answered the client itself
        return;
    }
    upstream->send(Envelope{finishes ? EnvelopeKind::to_client : EnvelopeKind::answer,
                            request.upstream_seq, Origin{request.gate_id, request.conn_id, {}},
                            msg_id, 0, payload});
}

void NodeShard::on_finished(Link& link, std::uint64_t seq) {
    auto request = link.finish(seq);
    if (!request) return;
    finish_upstream(*request);
    on_client_request_finished(*request);
}

void NodeShard::finish_upstream(const PendingRequest& request) {
    if (request.upstream_seq == 0) return;
    auto upstream = request.upstream.lock();
    if (upstream && upstream->is_open())
        upstream->send(Envelope{EnvelopeKind::done, request.upstream_seq, {}, 0, 0, {}});
}

void NodeShard::fail_request(const PendingRequest& request, Error code, const std::string& why) {
    if (request.answered) {
        finish_upstream(request);  // its client has its answer: nothing is owed but the end
    } else {
        auto body = error_payload(request.msg_id, code, why);
        pass_answer(request, topology().settings().error_msg_id, as_bytes(body), true);
    }
    on_client_request_finished(request);
}

void NodeShard::note_late_answer() {
    late_answers_.store(late_answers_.load(std::memory_order_relaxed) + 1,
                        std::memory_order_relaxed);
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
    if (payload.size() < share_from) {
        auto data = std::make_shared<const ByteBuffer>(payload.begin(), payload.end());
        for (std::size_t i = 0; i < node_.shard_count(); ++i) {
            node_.post_to(i, [msg_id, data](NodeShard& shard) {
                for (auto& [id, session] : shard.sessions_) session->send(msg_id, *data);
            });
        }
        return;
    }
    // One frame for every receiver: 500 clients cost one copy of a big broadcast, not 500.
    ByteBuffer frame;
    frame.reserve(node::frame_header_size + payload.size());
    node::append_frame(frame, msg_id, payload);
    auto shared = budget_->share(std::move(frame));
    for (std::size_t i = 0; i < node_.shard_count(); ++i) {
        node_.post_to(i, [shared](NodeShard& shard) {
            for (auto& [id, session] : shard.sessions_) session->send_shared(shared);
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
        fail_request(pending, Error::unavailable,
                     "no node of group " + group.name + " is reachable");
        return;
    }
    links_.send_request(*target, std::move(request), std::move(pending), RetryGroup{&group, avoid});
}

void NodeShard::send_request(std::uint32_t node_id, Envelope request, PendingRequest pending) {
    links_.send_request(node_id, std::move(request), std::move(pending), RetryGroup{});
}

void NodeShard::send_error(std::uint32_t gate_id, std::uint64_t conn_id, std::uint32_t msg_id,
                           Error code, const std::string& why) {
    auto body = error_payload(msg_id, code, why);
    deliver(gate_id, conn_id, topology().settings().error_msg_id, as_bytes(body));
}

}  // namespace dinx::cluster
