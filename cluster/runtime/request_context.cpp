#include "cluster/runtime/request_context.hpp"

#include "cluster/gate/client_session.hpp"
#include "cluster/rpc/balancer.hpp"
#include "cluster/rpc/error_frame.hpp"
#include "cluster/rpc/request_lifecycle.hpp"
#include "cluster/runtime/delivery.hpp"

#include <stdexcept>

namespace dinx::cluster {

RequestContext::RequestContext(HandlerServices& services, ClientSession& client,
                               std::uint32_t msg_id)
    : services_(services), client_(&client), msg_id_(msg_id), origin_(client.origin()) {}

RequestContext::RequestContext(HandlerServices& services, Link& upstream, const Envelope& request)
    : services_(services),
      upstream_(&upstream),
      upstream_seq_(request.seq),
      via_(request.via),
      msg_id_(request.msg_id),
      origin_(request.origin) {}

const dict::NodeInfo& RequestContext::node() const {
    return services_.context.info;
}

const dict::Config& RequestContext::config() const {
    return services_.context.topology->config();
}

const dict::NodeInfo* RequestContext::forwarded_by() const {
    return via_ == 0 ? nullptr : services_.context.topology->node(via_);
}

bool RequestContext::upstream_is_gate() const {
    return upstream_->peer_id() == origin_.gate_id;
}

// Every answer goes back on the link the request came from, and nowhere else when that link is
// gone: the node at its other end then answered the client itself (an error frame), so this
// reply would be a second answer.
void RequestContext::do_reply(std::uint32_t msg_id, Bytes payload) {
    if (client_) {
        client_->send(msg_id, payload);
        answered_ = true;
        return;
    }
    if (!upstream_->is_open()) {
        services_.requests.note_late_answer();
        return;
    }
    auto kind = EnvelopeKind::to_client;
    std::uint64_t seq = 0;  // after the request finished: a later reply travels as a push
    bool finishes = false;
    if (!finished_) {
        seq = upstream_seq_;
        // The gate's first reply also finishes the request, so most requests cost one envelope
        // back; a forwarding node must keep the request until `done`, for later replies.
        finishes = upstream_is_gate() && !forwarded_;
        if (!finishes) kind = EnvelopeKind::answer;
    }
    upstream_->send(Envelope{kind, seq, origin_, msg_id, 0, payload});  // may throw: too big
    answered_ = true;
    finished_ = finished_ || finishes;
}

void RequestContext::do_send_to(std::uint32_t gate_id, std::uint64_t conn_id, std::uint32_t msg_id,
                                Bytes payload) {
    services_.delivery.deliver(gate_id, conn_id, msg_id, payload);
}

void RequestContext::do_broadcast(std::uint32_t msg_id, Bytes payload) {
    services_.delivery.broadcast(msg_id, payload);
}

Envelope RequestContext::make_request(std::uint32_t msg_id, Bytes payload) const {
    return Envelope{EnvelopeKind::request,       0,      origin_, msg_id,
                    services_.context.node_id(), payload};
}

PendingRequest RequestContext::continuation(std::uint32_t msg_id, Bytes payload) {
    PendingRequest pending{origin_.gate_id, origin_.conn_id, msg_id, {}, 0};
    pending.answered = answered_;
    // The first forward of an unfinished request answers it and finishes it when it finishes.
    if (!finished_ && !forwarded_) {
        forwarded_ = true;
        if (upstream_) {
            pending.upstream = upstream_->self();
            pending.upstream_seq = upstream_seq_;
        } else {
            // A gate's own handler forwarded its client's request: it is in flight again.
            pending.counted = true;
            pending.payload_size = static_cast<std::uint32_t>(payload.size());
            client_->begin_request(pending.payload_size);
        }
    }
    return pending;
}

void RequestContext::do_forward(std::string_view group, std::uint32_t msg_id, Bytes payload,
                                bool avoid_self) {
    auto target = services_.context.topology->find_group(group);
    if (!target) {
        fail(Error::no_route, "no group named " + std::string(group));
        return;
    }
    auto pending = continuation(msg_id, payload);
    std::optional<std::uint32_t> avoid;
    if (avoid_self) avoid = services_.context.node_id();
    services_.requests.route(*target, make_request(msg_id, payload), std::move(pending), avoid);
}

void RequestContext::do_forward_to(std::uint32_t node_id, std::uint32_t msg_id, Bytes payload) {
    if (!services_.context.topology->node(node_id)) {
        fail(Error::no_route, "no node with id " + std::to_string(node_id));
        return;
    }
    auto pending = continuation(msg_id, payload);
    services_.requests.send(node_id, make_request(msg_id, payload), std::move(pending));
}

std::optional<std::uint32_t> RequestContext::pick_node(std::string_view group,
                                                       bool avoid_self) const {
    auto target = services_.context.topology->find_group(group);
    if (!target) return std::nullopt;
    std::optional<std::uint32_t> avoid;
    if (avoid_self) avoid = services_.context.node_id();
    return services_.requests.pick_node(*target, sticky_key(origin_.gate_id, origin_.conn_id),
                                        avoid);
}

void RequestContext::do_bind(std::string uid) {
    if (uid.size() > max_uid_size)
        throw std::length_error("a uid is at most " + std::to_string(max_uid_size) + " bytes");
    origin_.uid = std::move(uid);
    if (client_) {
        client_->set_uid(origin_.uid);
        return;
    }
    if (!upstream_->is_open()) {
        services_.requests.note_late_answer();
        return;
    }
    // Before the reply on the same way back, so the gate applies it before the reply arrives.
    std::uint64_t seq = upstream_is_gate() || finished_ ? 0 : upstream_seq_;
    upstream_->send(Envelope{EnvelopeKind::session, seq, origin_, 0, 0, {}});
}

void RequestContext::do_fail(std::string_view code, std::string_view message) {
    auto body = error_payload(msg_id_, code, message);
    do_reply(services_.context.settings().error_msg_id, as_bytes(body));
}

void RequestContext::finish() {
    if (!upstream_ || finished_ || forwarded_) return;
    finished_ = true;
    if (upstream_->is_open())
        upstream_->send(Envelope{EnvelopeKind::done, upstream_seq_, {}, 0, 0, {}});
}

}  // namespace dinx::cluster
