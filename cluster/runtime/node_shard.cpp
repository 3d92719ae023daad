#include "cluster/runtime/node_shard.hpp"

#include "cluster/rpc/balancer.hpp"
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
                     std::size_t shard_count, asio::io_context& io, spdlog::logger& log,
                     AddressBook& addresses, std::shared_ptr<node::MemoryBudget> budget,
                     Directory& directory)
    : host_(host),
      context_{info,      index,  shard_count,         io,        log,
               addresses, budget, std::move(topology), directory, {}},
      link_setup_{info.id,
                  context_.settings().secret,
                  [topology = context_.topology](std::uint32_t id) {
                      return topology->node(id) != nullptr;
                  },
                  budget,
                  index,
                  this,
                  &context_.drain},
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
      services_{context_, delivery_, requests_, keeper_},
      guard_(host.unproven_count(index)),
      refused_links_("link connections refused before their handshake", summary_interval),
      heartbeat_(io, [this] { heartbeat_links(); }),
      client_check_(io, [this] { check_clients(); }) {
    client_rules_.events = this;
    client_rules_.drain = &context_.drain;
    delivery_.set_keeper(&keeper_);
    if (info.is_frontend() && index == 0) publisher_.emplace(context_, links_);
    if (info.is_frontend()) {
        router_.emplace(
            context_, clients_, links_, requests_, delivery_,
            [this](ClientSession& session, std::uint32_t msg_id, Bytes payload) {
                RequestContext ctx(services_, session, msg_id);
                run_handler(ctx, payload);
            },
            host.handlers().interceptors);
        requests_.set_listener(&*router_);
    }
    wire_dispatch();
}

NodeShard::~NodeShard() = default;

void NodeShard::wire_dispatch() {
    dispatch_.on(EnvelopeKind::request, [this](Link& link, const Envelope& request) {
        RequestContext ctx(services_, link, request);
        run_handler(ctx, request.payload);
    });
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

void NodeShard::accept_client(node::Socket socket) {
    if (stopping_) return;
    if (!host_.admit_client() && !make_room(socket)) return;
    start_client(std::move(socket));
}

void NodeShard::start_client(node::Socket socket) {
    // Ids encode their shard, so a reply for a connection goes straight to its thread.
    std::uint64_t conn_id = next_conn_seq_++ * context_.shard_count + context_.index + 1;
    const auto& settings = context_.settings();
    node::TransportLimits limits;
    limits.max_frame_len = settings.max_packet_size;
    limits.max_send_queue_bytes = settings.client_send_queue_bytes;
    // A client that does not read its replies is not read either (after a quarter of its queue).
    limits.pause_reading_above = settings.client_send_queue_bytes / 4;
    limits.pressure_send_queue_bytes = pressure_send_queue;
    auto transport = std::make_shared<node::TcpTransport>(std::move(socket), limits,
                                                          context_.budget, context_.index);
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
bool NodeShard::make_room(node::Socket& socket) {
    if (evict_unproven_client() && host_.admit_client()) return true;
    if (host_.evict_elsewhere(context_.index, std::move(socket), [this](node::Socket s) {
            accept_client_after_eviction(std::move(s));
        }))
        return false;
    refuse_client(socket);
    return false;
}

void NodeShard::accept_client_after_eviction(node::Socket socket) {
    if (stopping_) return;
    if (host_.admit_client())
        start_client(std::move(socket));
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
    if (!connection.violation().empty() && !stopping_)
        guard_.note_violation(connection.violation(),
                              connection.remote() + ": " + connection.close_reason());
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
    auto link =
        std::make_shared<Link>(link_setup_, tcp_link_transport(link_setup_, std::move(socket)),
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
    else if (connection.closed_locally() && !stopping_)  // a bare port probe is no news
        refused_links_.add(connection.violation().empty() ? "closed" : connection.violation(),
                           connection.remote() + ": " + connection.close_reason());
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
    context_.drain.abandon();
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
