#include "cluster/gate/client_router.hpp"

#include "cluster/rpc/balancer.hpp"

namespace dinx::cluster {

ClientRouter::ClientRouter(ShardContext& context, ClientTable& clients, LinkTable& links,
                           RequestLifecycle& requests, Delivery& delivery, RunHere run_here,
                           const std::vector<Interceptor>& interceptors)
    : context_(context),
      clients_(clients),
      links_(links),
      requests_(requests),
      delivery_(delivery),
      run_here_(std::move(run_here)),
      interceptors_(interceptors),
      own_group_(context.topology->find_group(context.info.group)) {}

void ClientRouter::on_frame(ClientSession& session, std::uint32_t msg_id, Bytes payload) {
    context_.metrics.count_in(msg_id, payload.size());
    // A zinx heartbeat proves the client is there (reading it did that) and is answered in kind:
    // a zinx client stops a connection on which nothing arrived for HeartbeatMax (10 s).
    if (msg_id == context_.settings().heartbeat_msg_id) {
        session.send(msg_id, payload);
        return;
    }
    if (!interceptors_.empty() && !intercept(session, msg_id, payload)) return;
    auto group = context_.topology->route(msg_id);
    if (!group) {
        delivery_.send_error(context_.node_id(), session.conn_id(), msg_id, Error::no_route,
                             "no group handles msg_id " + std::to_string(msg_id));
        return;
    }
    if (group == own_group_) {
        if (auto* former = former_pin(session, msg_id)) {
            // A reload moved it here: the client's requests still on its old group go first.
            session.begin_request(static_cast<std::uint32_t>(payload.size()));
            hold_in_turn(session, *former, msg_id, payload, Refusal::none);
            return;
        }
        if (context_.drain.closing())
            refuse(session, *group, msg_id, Refusal::stopping, 0);
        else
            run_here_(session, msg_id, payload);
        return;
    }
    session.begin_request(static_cast<std::uint32_t>(payload.size()));
    route(session, *group, msg_id, payload);
}

bool ClientRouter::intercept(ClientSession& session, std::uint32_t& msg_id, Bytes payload) {
    InterceptedFrame frame(session, context_, msg_id, payload);
    if (run_chain(frame) == Verdict::pass) {
        msg_id = frame.msg_id();
        return true;
    }
    // Every request gets an answer: a stop that gave none gets one from the gate.
    if (!frame.answered())
        frame.fail(Error::rejected,
                   "an interceptor stopped msg_id " + std::to_string(frame.sent_msg_id()));
    return false;
}

Verdict ClientRouter::run_chain(InterceptedFrame& frame) {
    for (const auto& interceptor : interceptors_)
        if (run_one(interceptor, frame) != Verdict::pass) return Verdict::stop;
    return Verdict::pass;
}

// An interceptor that throws is a bug of the game, not of the client: the frame stops with
// handler_error (as a handler that throws), and the gate carries on.
Verdict ClientRouter::run_one(const Interceptor& interceptor, InterceptedFrame& frame) {
    std::string failure;
    try {
        return interceptor(frame);
    } catch (const std::exception& error) {
        failure = error.what();
    } catch (...) {
        failure = "an exception that is not a std::exception";
    }
    context_.log.error("an interceptor threw on msg_id {}: {}", frame.sent_msg_id(), failure);
    // One answer per request: an answer the interceptor gave before it threw stands.
    if (!frame.answered()) frame.fail(Error::handler_error, "an interceptor failed");
    return Verdict::stop;
}

std::uint64_t ClientRouter::sticky(const ClientSession& session) const {
    return sticky_key(context_.node_id(), session.conn_id());
}

bool ClientRouter::blocked(ClientSession& session, RoutePin& pin, Refusal refusal) {
    return pin.in_flight > 0 && (refusal != Refusal::none || !links_.is_live(pin.node) ||
                                 links_.is_overloaded(pin.node) || outdated(session, pin));
}

bool ClientRouter::outdated(ClientSession& session, RoutePin& pin) {
    auto generation = context_.topology->generation();
    if (pin.generation == generation) return false;  // no reload since: one compare
    auto choice = requests_.pick_node(pin.group, sticky(session), {});
    if (!choice || *choice != pin.node) return true;
    pin.generation = generation;
    return false;
}

RoutePin* ClientRouter::former_pin(ClientSession& session, std::uint32_t msg_id) {
    for (auto former : context_.topology->former_groups(msg_id)) {
        auto* pin = session.find_pin(former);
        if (pin && (pin->in_flight > 0 || !pin->held.empty())) return pin;
    }
    return nullptr;
}

// See route_pin.hpp for why a client's requests may be held.
void ClientRouter::route(ClientSession& session, dict::GroupId group, std::uint32_t msg_id,
                         Bytes payload) {
    auto refusal = context_.drain.closing() ? Refusal::stopping : Refusal::none;
    // A msgID moved by a reload: the client's requests to its old group go first.
    if (auto* former = former_pin(session, msg_id)) {
        hold_in_turn(session, *former, msg_id, payload, refusal);
        return;
    }
    RoutePin& pin = session.pin_for(group);
    // Behind earlier requests that cannot be followed yet (their node left, died or is full,
    // or this gate stops), this one waits its turn: even an error must not overtake them.
    if (!pin.held.empty() || blocked(session, pin, refusal)) {
        hold_in_turn(session, pin, msg_id, payload, refusal);
        return;
    }
    auto size = static_cast<std::uint32_t>(payload.size());
    if (refusal != Refusal::none) {
        refuse(session, group, msg_id, refusal, size);
        return;
    }
    if (pin.in_flight == 0 && !choose_node(session, pin, msg_id, size)) return;
    send_pinned(session, pin, msg_id, payload);
}

void ClientRouter::hold_in_turn(ClientSession& session, RoutePin& pin, std::uint32_t msg_id,
                                Bytes payload, Refusal refusal) {
    // Held payloads are memory: past the budget, the request is refused in its turn.
    bool full = pin.held.size() >= max_held_requests;
    if (full || (refusal == Refusal::none && context_.budget->over())) {
        context_.metrics.count_overloaded(full ? OverloadCause::held_limit : OverloadCause::memory);
        refusal = Refusal::overloaded;
    }
    ByteBuffer kept;
    if (refusal == Refusal::none) kept.assign(payload.begin(), payload.end());
    session.hold(pin,
                 {msg_id, std::move(kept), refusal, static_cast<std::uint32_t>(payload.size())});
}

// Nothing of the client is in flight to the group: its requests may go to any node now.
bool ClientRouter::choose_node(ClientSession& session, RoutePin& pin, std::uint32_t msg_id,
                               std::uint32_t size) {
    auto target = requests_.pick_node(pin.group, sticky(session), {});
    if (target) {
        pin.node = *target;
        pin.generation = context_.topology->generation();
        return true;
    }
    delivery_.send_error(
        context_.node_id(), session.conn_id(), msg_id, Error::unavailable,
        "no node of group " + context_.topology->group(pin.group).name + " is reachable");
    session.end_request(size);
    return false;
}

void ClientRouter::send_pinned(ClientSession& session, RoutePin& pin, std::uint32_t msg_id,
                               Bytes payload) {
    ++pin.in_flight;
    PendingRequest pending{context_.node_id(), session.conn_id(), msg_id, {}, 0, pin.group, true};
    pending.counted = true;
    pending.payload_size = static_cast<std::uint32_t>(payload.size());
    pending.sent_at = context_.metrics.send_time();
    requests_.send(pin.node,
                   Envelope{EnvelopeKind::request, 0, session.origin(), msg_id, 0, payload,
                            session.values().encoded()},
                   std::move(pending), pin.group);
}

void ClientRouter::on_client_request_finished(const PendingRequest& request) {
    auto* session = clients_.find(request.conn_id);
    if (!session) return;
    if (request.counted) session->end_request(request.payload_size);
    auto* pin = request.pinned ? session->find_pin(request.group) : nullptr;
    if (!pin || pin->in_flight == 0) return;
    if (--pin->in_flight > 0 || pin->held.empty()) return;
    release_held(*session, request.group, *pin);
}

void ClientRouter::release_held(ClientSession& session, dict::GroupId group, RoutePin& pin) {
    // The line moves: route what waited, in order (it may have to wait again).
    for (auto& next : session.take_held(pin)) {
        if (next.refusal == Refusal::none) {
            reroute_held(session, next);
            continue;
        }
        // A refused request is answered when its turn comes: nothing earlier may still be in
        // flight or waiting.
        RoutePin& now = session.pin_for(group);
        if (now.in_flight == 0 && now.held.empty())
            refuse(session, group, next.msg_id, next.refusal, next.size);
        else
            session.hold(now, std::move(next));
    }
}

void ClientRouter::reroute_held(ClientSession& session, HeldRequest& held) {
    auto group = context_.topology->route(held.msg_id);
    if (group && group != own_group_) {
        route(session, *group, held.msg_id, held.payload);
        return;
    }
    // A reload took its route away, or gave it to this gate's group: answered here.
    session.end_request(held.size);
    if (!group)
        delivery_.send_error(context_.node_id(), session.conn_id(), held.msg_id, Error::no_route,
                             "no group handles msg_id " + std::to_string(held.msg_id));
    else if (context_.drain.closing())
        refuse(session, *group, held.msg_id, Refusal::stopping, 0);
    else
        run_here_(session, held.msg_id, held.payload);
}

void ClientRouter::refuse(ClientSession& session, dict::GroupId group, std::uint32_t msg_id,
                          Refusal refusal, std::uint32_t size) {
    if (refusal == Refusal::overloaded)
        delivery_.send_error(
            context_.node_id(), session.conn_id(), msg_id, Error::overloaded,
            "too many requests wait for group " + context_.topology->group(group).name);
    else
        delivery_.send_error(context_.node_id(), session.conn_id(), msg_id, Error::unavailable,
                             "the gate is stopping");
    // Refusals of the gate's own group were never counted (they run no request).
    if (group != own_group_) session.end_request(size);
}

}  // namespace dinx::cluster
