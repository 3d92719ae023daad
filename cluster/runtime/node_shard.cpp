#include "cluster/runtime/node_shard.hpp"

#include "cluster/rpc/balancer.hpp"
#include "cluster/rpc/call_wire.hpp"
#include "cluster/rpc/error_frame.hpp"
#include "node/tcp_transport.hpp"

#include <asio/post.hpp>

#include <algorithm>

namespace dinx::cluster {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Accepted links whose handshake is not done yet, per io thread; the oldest goes first when
// another arrives. A real peer's handshake takes one round trip, so only a flood is cut.
constexpr std::size_t max_handshaking_links = 64;

// While the process is over its memory budget, a client with more than this unsent is closed.
constexpr std::size_t pressure_send_queue = 64 * 1024;

// Summaries of refused links: one line at most this often.
constexpr std::chrono::seconds summary_interval{5};

// Links tick twice per heartbeat interval and die after 5 silent ticks: between 2.5 and 3
// intervals after the last frame heard, while a live peer, pinging every tick when idle,
// is heard at least every tick or two.
constexpr int ticks_per_heartbeat = 2;
constexpr int silent_ticks_to_die = 5;
constexpr milliseconds min_tick{5};

// Which link carries a gate's presence, as the directory tells links apart.
std::uintptr_t presence_stream(const Link& link) {
    return reinterpret_cast<std::uintptr_t>(&link);
}

milliseconds heartbeat_tick(const dict::Settings& settings) {
    return std::max(min_tick, milliseconds(settings.heartbeat_interval_ms / ticks_per_heartbeat));
}

}  // namespace

NodeShard::NodeShard(ShardHost& host, const dict::NodeInfo& info,
                     std::shared_ptr<const dict::Topology> topology, std::size_t index,
                     std::size_t shard_count, std::size_t thread, asio::io_context& io,
                     spdlog::logger& log, AddressBook& addresses,
                     std::shared_ptr<node::MemoryBudget> budget, Directory& directory)
    : host_(host),
      context_{info,      index,  shard_count,         thread,    io, log,
               addresses, budget, std::move(topology), directory, {},  {}},
      link_setup_{info.id,
                  context_.settings().secret,
                  // Read at each handshake: a node a live reload added is known from then on.
                  [this](std::uint32_t id) { return context_.topology->node(id) != nullptr; },
                  budget,
                  thread,
                  this,
                  &context_.drain,
                  {},
                  {}},
      client_rules_(ClientRules::from_settings(context_.settings(), info.id)),
      links_(context_, link_setup_, requests_),
      requests_(context_, links_, delivery_),
      delivery_(context_, clients_, links_,
                [&host](std::size_t shard, std::function<void(Delivery&)> work) {
                    host.post_to_shard(shard, [work = std::move(work)](NodeShard& there) {
                        work(there.delivery());
                    });
                }),
      keeper_(
          context_, clients_,
          [this](const Origin& client, SessionEventKind kind, DisconnectReason reason) {
              report_event(client, kind, reason);
          },
          [this](std::uint64_t conn_id, const std::string& uid, DisconnectReason reason,
                 std::string why) {
              delivery_.end_session(context_.node_id(), conn_id, uid, reason, std::move(why));
          }),
      calls_(context_, links_),
      waits_(io, host.workers()),
      services_{context_, delivery_, requests_, keeper_, calls_, waits_},
      guard_(host.unproven_count(index)),
      refused_links_("link connections refused before their handshake", summary_interval),
      heartbeat_(io, [this] { heartbeat_links(); }),
      client_check_(io, [this] { check_clients(); }) {
    client_rules_.events = this;
    client_rules_.drain = &context_.drain;
    if (auto version = context_.settings().link_protocol)
        link_setup_.offer = LinkOffer{version, supported_link_features};
    if (info.metrics_port) {  // a node without an endpoint counts no messages
        context_.metrics.enable(*context_.topology);
        client_rules_.metrics = &context_.metrics;
    }
    link_setup_.accepted_layers = host.link_layers().accepted;
    link_setup_.dialed_layers = host.link_layers().dialed;
    delivery_.set_keeper(&keeper_);
    links_.on_node_lost([this](std::uint32_t node_id, bool maybe_received, const std::string& why) {
        calls_.on_node_lost(node_id, maybe_received, why);
    });
    calls_.serve_local_with([this](MethodId method, const Origin& origin, std::string payload,
                                   CallClient::Clock::time_point deadline,
                                   std::function<void(CallReply)> reply) {
        serve_call(method, origin, std::move(payload), deadline, std::move(reply));
    });
    if (info.is_frontend() && index == 0) publisher_.emplace(context_, links_);
    if (info.is_frontend()) {
        router_.emplace(
            context_, clients_, links_, requests_, delivery_,
            [this](ClientSession& session, std::uint32_t msg_id, Bytes payload) {
                on_gate_request(session, msg_id, payload);
            },
            host.handlers().interceptors);
        requests_.set_listener(&*router_);
    }
    wire_dispatch();
}

NodeShard::~NodeShard() = default;

bool NodeShard::kick(const std::string& uid, const std::string& reason) {
    auto held = context_.directory.find(uid);
    if (!held) return false;
    delivery_.end_session(held->gate_id, held->conn_id, uid, DisconnectReason::kicked, reason);
    return true;
}

ShardStats NodeShard::stats() {
    ShardStats stats;
    clients_.for_each([&](ClientSession& session) {
        ++stats.clients;
        if (!session.uid().empty()) ++stats.bound;
        stats.client_send_queue_bytes += session.transport().queued_bytes();
    });
    stats.peers = links_.peer_stats();
    stats.metrics = context_.metrics.counts();
    stats.metrics.late_answers = late_answers();
    return stats;
}

void NodeShard::apply_topology(std::shared_ptr<const dict::Topology> topology) {
    context_.topology = std::move(topology);
    context_.metrics.add_routes(*context_.topology);
    // Sessions read their rules by reference: new limits and timeouts hold for every client
    // from its next frame or check on.
    auto rules = ClientRules::from_settings(context_.settings(), context_.node_id());
    rules.events = client_rules_.events;
    rules.drain = client_rules_.drain;
    rules.metrics = client_rules_.metrics;
    client_rules_ = rules;
}

void NodeShard::wire_dispatch() {
    dispatch_.on(EnvelopeKind::request,
                 [this](Link& link, const Envelope& request) { on_link_request(link, request); });
    dispatch_.on(EnvelopeKind::call,
                 [this](Link& link, const Envelope& call) { on_call(link, call); });
    dispatch_.on(EnvelopeKind::call_reply,
                 [this](Link&, const Envelope& reply) { calls_.on_reply(reply); });
    dispatch_.on(EnvelopeKind::to_client, [this](Link& link, const Envelope& frame) {
        if (frame.seq != 0)
            requests_.on_answer(link, frame, true);
        else  // a push
            delivery_.deliver(frame.origin.gate_id, frame.origin.conn_id, frame.msg_id,
                              frame.payload);
    });
    dispatch_.on(EnvelopeKind::answer, [this](Link& link, const Envelope& frame) {
        requests_.on_answer(link, frame, false);
    });
    dispatch_.on(EnvelopeKind::done,
                 [this](Link& link, const Envelope& done) { requests_.on_done(link, done.seq); });
    dispatch_.on(EnvelopeKind::broadcast, [this](Link&, const Envelope& frame) {
        delivery_.broadcast_here(frame.msg_id, frame.payload);
    });
    dispatch_.on(EnvelopeKind::session, [this](Link& link, const Envelope& update) {
        if (update.seq != 0)
            requests_.on_session_answer(link, update);
        else
            delivery_.apply_session(update.origin.gate_id, update.origin.conn_id, update.payload);
    });
    dispatch_.on(EnvelopeKind::presence,
                 [this](Link& link, const Envelope& batch) { on_presence(link, batch.payload); });
    dispatch_.on(EnvelopeKind::multicast,
                 [this](Link&, const Envelope& frame) { on_multicast(frame); });
    dispatch_.on(EnvelopeKind::kick, [this](Link&, const Envelope& kick) {
        delivery_.end_session(context_.node_id(), kick.origin.conn_id, kick.origin.uid,
                              DisconnectReason(kick.msg_id & 0xff),
                              std::string(as_text(kick.payload)));
    });
    dispatch_.on(EnvelopeKind::event, [this](Link&, const Envelope& event) {
        run_event_handler(event.origin, SessionEventKind(event.msg_id & 0xff),
                          DisconnectReason((event.msg_id >> 8) & 0xff));
    });
    dispatch_.on(EnvelopeKind::leaving, [this](Link& link, const Envelope&) {
        // FIFO: every request we sent before this ack reaches the peer before it.
        links_.mark_leaving(link.peer_id());
        link.send(Envelope{EnvelopeKind::leaving_ack, 0, {}, 0, context_.node_id(), {}});
    });
    dispatch_.on(EnvelopeKind::leaving_ack,
                 [](Link& link, const Envelope&) { link.on_leaving_ack(); });
    // ping: hearing it is all it is for; handshake kinds: the Link handles them.
}

// --- clients ---------------------------------------------------------------------------------

void NodeShard::accept_client(node::Socket socket, std::size_t endpoint) {
    if (stopping_) return;
    if (!host_.admit_client() && !make_room(socket, endpoint)) return;
    start_client(std::move(socket), endpoint);
}

void NodeShard::start_client(node::Socket socket, std::size_t endpoint) {
    // Ids encode their shard, so a reply for a connection goes straight to its thread.
    std::uint64_t conn_id = next_conn_seq_++ * context_.shard_count + context_.index + 1;
    const auto& settings = context_.settings();
    node::TransportLimits limits;
    limits.max_frame_len = settings.max_packet_size;
    limits.max_send_queue_bytes = settings.client_send_queue_bytes;
    // A client that does not read its replies is not read either (after a quarter of its queue).
    limits.pause_reading_above = settings.client_send_queue_bytes / 4;
    limits.pressure_send_queue_bytes = pressure_send_queue;
    const auto& listener = host_.client_endpoint(endpoint);
    auto transport = std::make_shared<node::TcpTransport>(
        std::move(socket), limits, context_.budget, context_.thread,
        listener.layers ? listener.layers->make() : nullptr, listener.format);
    auto session =
        std::make_shared<ClientSession>(client_rules_, std::move(transport), conn_id, Clock::now());
    clients_.add(session);
    guard_.track(conn_id);
    keeper_.connected(*session);
    // remote() formats the address: only when the line is kept (every connection comes here).
    if (context_.log.should_log(spdlog::level::debug))
        context_.log.debug("client {} connected from {}", conn_id, session->transport().remote());
    ClientSession::start(session);
}

// When the gate is full, connections that never completed a frame (silent, trickling) go first.
bool NodeShard::make_room(node::Socket& socket, std::size_t endpoint) {
    if (evict_unproven_client() && host_.admit_client()) return true;
    if (host_.evict_elsewhere(context_.index, std::move(socket), [this, endpoint](node::Socket s) {
            accept_client_after_eviction(std::move(s), endpoint);
        }))
        return false;
    refuse_client(socket);
    return false;
}

void NodeShard::accept_client_after_eviction(node::Socket socket, std::size_t endpoint) {
    if (stopping_) return;
    if (host_.admit_client())
        start_client(std::move(socket), endpoint);
    else
        refuse_client(socket);  // another new client took the room first
}

bool NodeShard::evict_unproven_client() {
    auto oldest = guard_.oldest_unproven();
    if (!oldest) return false;
    guard_.forget(*oldest);
    auto* session = clients_.find(*oldest);
    if (!session) return false;
    // Its place is free now, not when its close is reported.
    if (session->admitted()) {
        session->set_released();
        host_.release_client();
    }
    session->close("evicted: the gate is full and it never sent a complete frame",
                   "evicted to make room (never sent a complete frame)");
    return true;
}

void NodeShard::refuse_client(node::Socket& socket) {
    std::error_code ignored;
    auto remote = socket.remote_endpoint(ignored);
    guard_.note_refused("max_connections reached", remote.address().to_string());
    context_.metrics.count_client_refused();
    socket.close(ignored);
}

void NodeShard::on_client_frame(ClientSession& session, std::uint32_t msg_id, Bytes payload) {
    router_->on_frame(session, msg_id, payload);
}

void NodeShard::on_first_client_frame(ClientSession& session) {
    guard_.forget(session.conn_id());
}

void NodeShard::on_client_closed(ClientSession& session) {
    if (session.admitted()) {
        session.set_released();
        host_.release_client();
    }
    guard_.forget(session.conn_id());
    const auto& connection = session.transport();
    // A client closed for breaking a rule is summarised, never logged one line per client.
    if (!connection.violation().empty() && !stopping_) {
        guard_.note_violation(connection.violation(),
                              connection.remote() + ": " + connection.close_reason());
        context_.metrics.count_client_closed(connection.violation());
    }
    if (context_.log.should_log(spdlog::level::debug))
        context_.log.debug("client {} ({}) closed: {}", session.conn_id(), connection.remote(),
                           connection.close_reason());
    keeper_.closed(session);
    clients_.remove(session.conn_id());
}

// --- links -----------------------------------------------------------------------------------

void NodeShard::accept_link(node::Socket socket) {
    if (stopping_) return;
    if (handshaking_links_.size() >= max_handshaking_links) {
        // Out of the table now: its close is reported later, and the next link must not count it.
        auto oldest = std::move(handshaking_links_.begin()->second);
        handshaking_links_.erase(handshaking_links_.begin());
        oldest->close("too many links are in their handshake", "evicted: too many handshakes");
    }
    auto link = std::make_shared<Link>(
        link_setup_, tcp_link_transport(link_setup_, std::move(socket), Link::Role::accepted),
        Link::Role::accepted, 0, next_link_seq_++);
    handshaking_links_.emplace(link->accept_seq(), link);
    link->begin(milliseconds(context_.settings().connect_timeout_ms));
}

void NodeShard::on_link_ready(const std::shared_ptr<Link>& link) {
    handshaking_links_.erase(link->accept_seq());
    if (context_.drain.closing()) link->send_leaving();  // a link that came up during our drain
    context_.log.debug("link {} node {} ({}) is up",
                       link->role() == Link::Role::dialed ? "to" : "from",
                       context_.node_name(link->peer_id()), link->transport().remote());
    links_.adopt(link);
    if (publisher_ && !stopping_) publisher_->on_link_ready(link);
}

void NodeShard::on_link_envelope(Link& link, const Envelope& envelope) {
    dispatch_.dispatch(link, envelope);
}

void NodeShard::on_link_closed(Link& link) {
    const auto& connection = link.transport();
    if (link.is_ready() || link.role() == Link::Role::dialed)
        context_.log.log(stopping_ ? spdlog::level::debug : spdlog::level::info,
                         "link {} node {} closed: {}",
                         link.role() == Link::Role::dialed ? "to" : "from",
                         context_.node_name(link.peer_id()), connection.close_reason());
    else if (connection.closed_locally() && !stopping_) {  // a bare port probe is no news
        refused_links_.add(connection.violation().empty() ? "closed" : connection.violation(),
                           connection.remote() + ": " + connection.close_reason());
        context_.metrics.count_link_refused();
    }
    if (!link.is_ready() && connection.closed_locally())
        context_.log.debug("refused link from {}: {}", connection.remote(),
                           connection.close_reason());
    handshaking_links_.erase(link.accept_seq());
    // A gate's presence came over one link: when that one closes, its players are forgotten
    // here (a live gate sends a new snapshot over its next link).
    if (link.is_ready()) context_.directory.drop_stream(link.peer_id(), presence_stream(link));
    links_.forget(link);
}

// --- handlers --------------------------------------------------------------------------------

struct NodeShard::HeldRequest {
    // A gate's own client owes it an answer until it is destroyed, which bounds what a client
    // can pile up here by client_max_in_flight like its requests to other nodes.
    ~HeldRequest() {
        if (client) client->end_request(static_cast<std::uint32_t>(payload.size()));
    }

    std::shared_ptr<Link> upstream;         // a request from a link, or
    std::shared_ptr<ClientSession> client;  // a message of this gate's own client
    Envelope request;                       // payload and values point into the strings below
    std::string payload;
    std::string values;

    /// The context a handler of this request gets.
    void make_context(std::optional<RequestContext>& ctx, HandlerServices& services) {
        if (upstream)
            ctx.emplace(services, *upstream, request);
        else
            ctx.emplace(services, *client, request.msg_id);
    }
};

namespace {

// Requests of one client that may wait behind its running coroutine handler. The gate lets a
// client have client_max_in_flight requests out, so this is reached only by a forwarding node.
constexpr std::size_t max_held_per_client = 1024;

Task<void> run_coroutine_handler(const CoroutineHandler& handler, Context& ctx, Bytes payload) {
    co_await handler(ctx, payload);
}

Task<void> run_method(const Method& method, Context& ctx, Bytes payload,
                      std::optional<CallReply>& out) {
    out.emplace(co_await method(ctx, payload));
}

}  // namespace

std::size_t NodeShard::ClientKeyHash::operator()(const ClientKey& key) const {
    return static_cast<std::size_t>(sticky_key(key.gate_id, key.conn_id));
}

void NodeShard::on_link_request(Link& link, const Envelope& request) {
    context_.metrics.count_in(request.msg_id, request.payload.size());
    ClientKey key{request.origin.gate_id, request.origin.conn_id};
    bool coroutine = host_.handlers().coroutines.contains(request.msg_id);
    if (!coroutine && (busy_.empty() || !busy_.contains(key))) {
        RequestContext ctx(services_, link, request);
        run_handler(ctx, request.payload);
        return;
    }
    // Built in place: a copy would end a gate client's count twice.
    auto held = std::unique_ptr<HeldRequest>(new HeldRequest{link.self(), nullptr, request,
                                                             std::string(as_text(request.payload)),
                                                             std::string(as_text(request.values))});
    held->request.payload = as_bytes(held->payload);
    held->request.values = as_bytes(held->values);
    start_or_hold(key, std::move(held));
}

void NodeShard::on_gate_request(ClientSession& session, std::uint32_t msg_id, Bytes payload) {
    ClientKey key{context_.node_id(), session.conn_id()};
    bool coroutine = host_.handlers().coroutines.contains(msg_id);
    if (!coroutine && (busy_.empty() || !busy_.contains(key))) {
        RequestContext ctx(services_, session, msg_id);
        run_handler(ctx, payload);
        return;
    }
    auto held = std::unique_ptr<HeldRequest>(
        new HeldRequest{nullptr,
                        clients_.share(session.conn_id()),
                        Envelope{EnvelopeKind::request, 0, session.origin(), msg_id, 0, {}},
                        std::string(as_text(payload)),
                        {}});
    held->request.payload = as_bytes(held->payload);
    session.begin_request(static_cast<std::uint32_t>(payload.size()));  // ended by ~HeldRequest
    start_or_hold(key, std::move(held));
}

void NodeShard::start_or_hold(const ClientKey& key, std::unique_ptr<HeldRequest> held) {
    if (auto it = busy_.find(key); it != busy_.end()) {
        hold_back(it->second, std::move(held));
        return;
    }
    if (!start_coroutine(key, std::move(held))) busy_.erase(key);
}

void NodeShard::hold_back(std::deque<std::unique_ptr<HeldRequest>>& queue,
                          std::unique_ptr<HeldRequest> held) {
    if (queue.size() < max_held_per_client) {
        queue.push_back(std::move(held));
        return;
    }
    context_.metrics.count_overloaded(OverloadCause::handler_queue);
    std::optional<RequestContext> ctx;
    held->make_context(ctx, services_);
    ctx->fail(Error::overloaded, "too many requests of this client wait for its running handler");
    ctx->finish();
}

bool NodeShard::run_held(const ClientKey& key, std::unique_ptr<HeldRequest> held) {
    if (host_.handlers().coroutines.contains(held->request.msg_id))
        return start_coroutine(key, std::move(held));
    std::optional<RequestContext> ctx;
    held->make_context(ctx, services_);
    run_handler(*ctx, held->request.payload);
    return false;
}

bool NodeShard::start_coroutine(const ClientKey& key, std::unique_ptr<HeldRequest> held) {
    // Lives until the handler ends, which may be long after this function returned.
    struct Running {
        std::unique_ptr<HeldRequest> held;
        std::optional<RequestContext> ctx;
        bool starting = true;  // still inside run_detached below
    };
    auto* state = new Running{std::move(held), {}};
    state->held->make_context(state->ctx, services_);
    const auto& handler = *host_.handlers().coroutines.find(state->held->request.msg_id);
    busy_.try_emplace(key);  // the client's next requests wait for this one
    context_.drain.enter();  // a drain waits for it
    bool ended_at_once = false;
    auto* ended_flag = &ended_at_once;
    run_detached(run_coroutine_handler(handler, *state->ctx, state->held->request.payload),
                 [this, state, key, ended_flag](std::exception_ptr error) {
                     finish_coroutine(*state->ctx, error);
                     bool at_once = state->starting;
                     delete state;
                     context_.drain.leave();
                     if (at_once) {
                         *ended_flag = true;  // still in start_coroutine: the flag lives
                         return;
                     }
                     // Posted: the next request must not run inside this one's last frame.
                     asio::post(context_.io, [this, key] { release(key); });
                 });
    if (!ended_at_once) state->starting = false;  // `state` lives while the handler runs
    return !ended_at_once;
}

void NodeShard::finish_coroutine(RequestContext& ctx, std::exception_ptr error) {
    if (error) {
        try {
            std::rethrow_exception(error);
        } catch (const std::exception& thrown) {
            context_.log.error("handler of msg_id {} threw: {}", ctx.msg_id(), thrown.what());
        } catch (...) {
            context_.log.error("handler of msg_id {} threw", ctx.msg_id());
        }
        if (!ctx.answered()) ctx.fail(Error::handler_error, "the handler failed");
    }
    ctx.finish();
}

void NodeShard::release(const ClientKey& key) {
    for (;;) {
        auto it = busy_.find(key);
        if (it == busy_.end()) return;
        if (it->second.empty()) {
            busy_.erase(it);
            return;
        }
        auto held = std::move(it->second.front());
        it->second.pop_front();
        if (run_held(key, std::move(held))) return;  // a coroutine runs: the rest waits for it
    }
}

void NodeShard::run_handler(RequestContext& ctx, Bytes payload) {
    const Handler* handler = host_.handlers().find(ctx.msg_id());
    if (!handler) {
        ctx.fail(Error::no_handler, "node " + context_.info.name + " has no handler for msg_id " +
                                        std::to_string(ctx.msg_id()));
    } else {
        try {
            (*handler)(ctx, payload);
        } catch (const std::exception& error) {
            context_.log.error("handler of msg_id {} threw: {}", ctx.msg_id(), error.what());
            // One answer per request: a reply already sent stands.
            if (!ctx.answered()) ctx.fail(Error::handler_error, "the handler failed");
        }
    }
    ctx.finish();
}

// --- calls -----------------------------------------------------------------------------------

namespace {

// When a call must end on this node: its budget counted from now, or its caller's wall-clock
// deadline if that is earlier (the call waited in a socket, or on a stopped node).
CallClient::Clock::time_point callee_deadline(const Envelope& call) {
    auto now = CallClient::Clock::now();
    auto deadline = now + std::chrono::milliseconds(call.via);
    if (auto wall = decode_call_deadline(call.values)) {
        auto left = *wall - std::chrono::system_clock::now();
        deadline =
            std::min(deadline, now + std::chrono::duration_cast<CallClient::Clock::duration>(left));
    }
    return deadline;
}

// Sends the outcome of call `id` back over `link`, if the caller waits for one and can hear it.
void send_call_reply(Link& link, std::uint64_t id, const CallReply& outcome) {
    if (id == 0 || !link.is_open()) return;
    std::string failure;
    if (!outcome) failure = encode_call_failure(outcome.error());
    Bytes body = outcome ? as_bytes(*outcome) : as_bytes(failure);
    try {
        // Field by field: g++ 12 -O3 warns falsely about the empty origin of a braced one here.
        Envelope reply;
        reply.kind = EnvelopeKind::call_reply;
        reply.seq = id;
        reply.msg_id = call_reply_status(outcome);
        reply.payload = body;
        link.send(reply);
    } catch (const std::length_error& error) {  // a reply over the link's limit
        send_call_reply(link, id,
                        CallFailure{CallError::application, "reply_too_large", error.what()});
    }
}

}  // namespace

void NodeShard::on_call(Link& link, const Envelope& call) {
    // A link that speaks an older protocol carries no calls (this node announced the older
    // version with --link-protocol): refused as a node of that release would, with the reason.
    if (link.version() < first_call_protocol_version) {
        bool peer_older = link.peer_version() == link.version();
        auto who = peer_older ? context_.node_name(link.peer_id()) : context_.info.name;
        send_call_reply(link, call.seq,
                        call_failure(CallError::unavailable,
                                     "node " + who + " speaks link protocol " +
                                         std::to_string(link.version()) + ", which has no calls"));
        return;
    }
    serve_call(call.msg_id, call.origin, std::string(as_text(call.payload)), callee_deadline(call),
               [this, link = link.self(), id = call.seq](CallReply outcome) {
                   // A stopped node answers nothing more: like a killed one, its callers see
                   // the link drop (a drain lets its methods finish before it stops).
                   if (!stopping_) send_call_reply(*link, id, outcome);
               });
}

void NodeShard::serve_call(MethodId method_id, const Origin& origin, std::string payload,
                           CallClient::Clock::time_point deadline,
                           std::function<void(CallReply)> reply) {
    const Method* method = host_.handlers().methods.find(method_id);
    if (!method) {
        reply(call_failure(
            CallError::no_such_method,
            "node " + context_.info.name + " has no method #" + std::to_string(method_id)));
        return;
    }
    if (deadline <= CallClient::Clock::now()) {
        reply(call_failure(CallError::deadline_exceeded,
                           "the deadline passed before the method started; it did not run"));
        return;
    }
    struct Serving {
        Serving(HandlerServices& services, const Origin& origin, std::string bytes,
                CallClient::Clock::time_point deadline, std::function<void(CallReply)> answer)
            : payload(std::move(bytes)),
              ctx(services, origin, deadline),
              reply(std::move(answer)) {}
        std::string payload;
        RequestContext ctx;
        std::function<void(CallReply)> reply;
        std::optional<CallReply> outcome;
    };
    auto* serving = new Serving(services_, origin, std::move(payload), deadline, std::move(reply));
    context_.drain.enter();  // a drain waits for the methods it runs
    run_detached(run_method(*method, serving->ctx, as_bytes(serving->payload), serving->outcome),
                 [this, serving, method_id](std::exception_ptr error) {
                     if (error) {
                         std::string why = "the method threw";
                         try {
                             std::rethrow_exception(error);
                         } catch (const std::exception& thrown) {
                             why += std::string(": ") + thrown.what();
                         } catch (...) {
                         }
                         context_.log.error("method #{} threw: {}", method_id, why);
                         serving->reply(CallFailure{CallError::application, "method_failed", why});
                     } else {
                         serving->reply(std::move(*serving->outcome));
                     }
                     serving->ctx.finish();
                     delete serving;
                     context_.drain.leave();
                 });
}

void NodeShard::start_service_timers() {
    if (context_.index != 0) return;  // once per node
    for (const auto& timer : host_.handlers().timers) {
        if (timer.group != context_.info.group) continue;
        auto ticker = std::make_unique<node::Ticker>(context_.io, [this, &timer] {
            RequestContext ctx(services_, Origin{});
            try {
                timer.run(ctx);
            } catch (const std::exception& error) {
                context_.log.error("timer of group {} threw: {}", timer.group, error.what());
            }
            ctx.finish();
        });
        ticker->start(timer.period);
        service_timers_.push_back(std::move(ticker));
    }
    for (const auto& starter : host_.handlers().starters) {
        if (starter.group != context_.info.group) continue;
        // Not counted in the drain: a game loop may never end.
        auto* ctx = new RequestContext(services_, Origin{});
        run_detached(starter.run(*ctx),
                     [this, ctx, group = starter.group](std::exception_ptr error) {
                         if (error) context_.log.error("the starter of group {} threw", group);
                         ctx->finish();
                         delete ctx;
                     });
    }
}

// --- players ---------------------------------------------------------------------------------

void NodeShard::flush_presence() {
    if (publisher_ && !stopping_) publisher_->flush();
}

void NodeShard::on_presence(Link& link, Bytes batch) {
    auto updates = read_presence(batch);
    if (!updates) {
        link.close("malformed presence batch", "sent a malformed presence batch");
        return;
    }
    auto losers = context_.directory.apply(link.peer_id(), presence_stream(link), *updates);
    keeper_.end_losers(losers);
}

void NodeShard::on_multicast(const Envelope& frame) {
    auto parsed = read_multicast(frame.payload);
    if (!parsed) {
        context_.log.warn("malformed multicast envelope dropped");
        return;
    }
    delivery_.multicast_here(parsed->first, frame.msg_id, parsed->second);
}

void NodeShard::report_event(const Origin& client, SessionEventKind kind, DisconnectReason reason) {
    const auto& topology = *context_.topology;
    auto code = static_cast<std::uint32_t>(kind) | (static_cast<std::uint32_t>(reason) << 8);
    for (auto group : topology.event_groups()) {
        // The client's own node of the group, as its requests pick it: events stay in order
        // with them in the common case.
        auto target = requests_.pick_node(group, sticky_key(client.gate_id, client.conn_id), {});
        if (!target) {
            context_.log.debug("session event {} of client {} lost: no node of group {} is live",
                               to_string(kind), client.conn_id, topology.group(group).name);
            continue;
        }
        if (*target == context_.node_id()) {
            // Not from inside the close or bind that caused it: handlers may touch sessions.
            asio::post(context_.io,
                       [this, client, kind, reason] { run_event_handler(client, kind, reason); });
            continue;
        }
        links_.send(*target, Envelope{EnvelopeKind::event, 0, client, code, 0, {}});
    }
}

void NodeShard::run_event_handler(const Origin& client, SessionEventKind kind,
                                  DisconnectReason reason) {
    const auto& handler = host_.handlers().session_events;
    if (!handler) return;
    RequestContext ctx(services_, client);
    try {
        handler(ctx, SessionEvent{kind, reason, client.uid});
    } catch (const std::exception& error) {
        context_.log.error("session event handler threw: {}", error.what());
    }
    ctx.finish();
}

// --- timers ----------------------------------------------------------------------------------

void NodeShard::start_timers() {
    heartbeat_.start(heartbeat_tick(context_.settings()));
    if (router_) client_check_.start(client_rules_.check_interval());
    start_service_timers();
}

void NodeShard::heartbeat_links() {
    auto tick = heartbeat_tick(context_.settings());
    if (publisher_) publisher_->tick();
    links_.for_each_link([&](Link& link) { link.heartbeat_tick(silent_ticks_to_die, tick); });
    housekeeping();
}

void NodeShard::housekeeping() {
    auto now = Clock::now();
    refused_links_.log_if_due(context_.log, spdlog::level::warn, now);
    guard_.log_if_due(context_.log, now);
    auto late = late_answers();
    if (late != late_answers_logged_) {
        context_.log.warn("dropped {} late answer(s) in all: their requests were answered already",
                          late);
        late_answers_logged_ = late;
    }
    context_.budget->return_freed_memory();
}

void NodeShard::check_clients() {
    auto now = Clock::now();
    for (auto& session : clients_.all()) session->check_timeouts(now);
    if (context_.budget->over()) clients_.close_backlogged(pressure_send_queue);
}

// --- drain -----------------------------------------------------------------------------------

void NodeShard::begin_drain(std::function<void()> on_drained) {
    // What clients sent before now is owed an answer, even if it is still in the kernel; what
    // they send later is answered too while we wait, but may be cut off when we close.
    clients_.for_each([](ClientSession& session) { session.owe_sent_bytes(); });
    links_.for_each_link([](Link& link) { link.send_leaving(); });
    // Completions are posted: the last leave() may come from deep inside a read.
    context_.drain.close([this, on_drained = std::move(on_drained)]() mutable {
        asio::post(context_.io, [this, on_drained = std::move(on_drained)]() mutable {
            flush_then(std::move(on_drained));
        });
    });
}

void NodeShard::flush_then(std::function<void()> on_drained) {
    if (stopping_) return;
    // The gate stops: its players' disconnects are reported now, while the links still carry
    // them (the flush below waits for those too).
    clients_.for_each([&](ClientSession& session) {
        session.set_disconnect_reason(DisconnectReason::stopping);
        keeper_.closed(session);
    });
    auto flushed = [this] { context_.drain.leave(); };
    clients_.for_each([&](ClientSession& session) {
        context_.drain.enter();
        session.transport().notify_when_flushed(flushed);
    });
    links_.for_each_link([&](Link& link) {
        context_.drain.enter();
        link.transport().notify_when_flushed(flushed);
    });
    context_.drain.close([this, on_drained = std::move(on_drained)]() mutable {
        asio::post(context_.io, [on_drained = std::move(on_drained)] { on_drained(); });
    });
}

void NodeShard::close_all() {
    stopping_ = true;
    heartbeat_.stop();
    client_check_.stop();
    for (auto& timer : service_timers_) timer->stop();
    context_.drain.abandon();
    // Coroutines waiting on calls or timers go on now, and end while the links still exist.
    calls_.cancel_all();
    waits_.wake_all();
    // A drain that finished reported these already (first_farewell); one that timed out did
    // not, so the players' disconnects are queued on the links before they close after a flush.
    clients_.for_each([&](ClientSession& session) {
        session.set_disconnect_reason(DisconnectReason::stopping);
        keeper_.closed(session);
    });
    links_.close_all();
    auto handshaking = std::exchange(handshaking_links_, {});
    for (auto& [seq, link] : handshaking) link->close("the node is stopping");
    clients_.for_each([](ClientSession& session) { session.close("the node is stopping"); });
}

}  // namespace dinx::cluster
