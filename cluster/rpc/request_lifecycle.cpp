#include "cluster/rpc/request_lifecycle.hpp"

#include "cluster/rpc/balancer.hpp"
#include "cluster/rpc/error_frame.hpp"
#include "cluster/runtime/delivery.hpp"

namespace dinx::cluster {
RequestLifecycle::RequestLifecycle(ShardContext& context, LinkTable& links, Delivery& delivery)
    : context_(context), links_(links), delivery_(delivery) {}

std::optional<std::uint32_t> RequestLifecycle::pick_node(dict::GroupId group, std::uint64_t key,
                                                         std::optional<std::uint32_t> avoid) {
    return cluster::pick_node(
        context_.topology->group(group).nodes, key,
        [this](std::uint32_t id) { return links_.is_live(id); }, avoid);
}

void RequestLifecycle::route(dict::GroupId group, Envelope request, PendingRequest pending,
                             std::optional<std::uint32_t> avoid) {
    SendScope scope(*this);
    auto target =
        pick_node(group, sticky_key(request.origin.gate_id, request.origin.conn_id), avoid);
    if (!target) {
        fail(pending, Error::unavailable,
             "no node of group " + context_.topology->group(group).name + " is reachable");
        return;
    }
    links_.send_request(*target, std::move(request), std::move(pending), RetryGroup{group, avoid});
}

void RequestLifecycle::send(std::uint32_t node_id, Envelope request, PendingRequest pending,
                            std::optional<dict::GroupId> retry_group) {
    SendScope scope(*this);
    links_.send_request(node_id, std::move(request), std::move(pending),
                        RetryGroup{retry_group, std::nullopt});
}

void RequestLifecycle::reroute(dict::GroupId group, Envelope request, PendingRequest pending,
                               std::optional<std::uint32_t> avoid) {
    route(group, std::move(request), std::move(pending), avoid);
}

// Answers travel back the way their request came, link by link, and never any other way: a
// link this node closed (its peer was declared dead) delivers nothing more, and a request
// failed here is forgotten here, so no late answer can reach a client that already got one.
void RequestLifecycle::on_answer(Link& link, const Envelope& answer, bool finishes) {
    PendingRequest* request = link.find_pending(answer.seq);
    if (!request) {
        note_late_answer();
        return;
    }
    // Measured at the gate only (sent_at is set there, with metrics on), to the first answer.
    if (!request->answered && request->sent_at != std::chrono::steady_clock::time_point{})
        context_.metrics.observe_latency(request->msg_id, request->sent_at);
    request->answered = true;
    if (!finishes) {
        pass_answer(*request, answer.msg_id, answer.payload, false);
        return;
    }
    auto finished = link.finish(answer.seq);
    pass_answer(*finished, answer.msg_id, answer.payload, true);
    ended(*finished);
}

void RequestLifecycle::on_session_answer(Link& link, const Envelope& update) {
    const PendingRequest* request = link.find_pending(update.seq);
    if (!request) {
        note_late_answer();
        return;
    }
    if (request->upstream_seq == 0) {
        delivery_.apply_session(update.origin.gate_id, update.origin.conn_id, update.payload);
        return;
    }
    auto upstream = open_upstream(*request);
    if (!upstream) {
        note_late_answer();
        return;
    }
    Envelope relayed = update;
    relayed.seq = request->upstream_seq;
    upstream->send(relayed);
}

void RequestLifecycle::on_done(Link& link, std::uint64_t seq) {
    auto request = link.finish(seq);
    if (!request) return;
    finish_upstream(*request);
    ended(*request);
}

void RequestLifecycle::pass_answer(const PendingRequest& request, std::uint32_t msg_id,
                                   Bytes payload, bool finishes) {
    if (request.upstream_seq == 0) {
        // This node is the client's gate, or the request continues one answered already.
        delivery_.deliver(request.gate_id, request.conn_id, msg_id, payload);
        return;
    }
    auto upstream = open_upstream(request);
    if (!upstream) {
        note_late_answer();
        return;
    }
    upstream->send(Envelope{finishes ? EnvelopeKind::to_client : EnvelopeKind::answer,
                            request.upstream_seq, Origin{request.gate_id, request.conn_id, {}},
                            msg_id, 0, payload});
}

void RequestLifecycle::finish_upstream(const PendingRequest& request) {
    if (request.upstream_seq == 0) return;
    if (auto upstream = open_upstream(request))
        upstream->send(Envelope{EnvelopeKind::done, request.upstream_seq, {}, 0, 0, {}});
}

std::shared_ptr<Link> RequestLifecycle::open_upstream(const PendingRequest& request) {
    auto upstream = request.upstream.lock();
    return upstream && upstream->is_open() ? upstream : nullptr;
}

void RequestLifecycle::fail(const PendingRequest& request, Error code, const std::string& why) {
    if (request.answered) {
        finish_upstream(request);  // its client has its answer: nothing is owed but the end
    } else {
        auto body = error_payload(request.msg_id, code, why);
        context_.metrics.count_error(code);
        pass_answer(request, context_.settings().error_msg_id, as_bytes(body), true);
    }
    ended(request);
}

void RequestLifecycle::ended(const PendingRequest& request) {
    if (!listener_ || request.gate_id != context_.node_id() ||
        (!request.pinned && !request.counted))
        return;
    // Inside a send, the client path is busy routing: it hears of this once the send returned.
    if (sending_ > 0)
        deferred_.push_back(request);
    else
        listener_->on_client_request_finished(request);
}

RequestLifecycle::SendScope::~SendScope() {
    if (--owner_.sending_ == 0 && !owner_.deferred_.empty()) owner_.run_deferred();
}

void RequestLifecycle::run_deferred() {
    while (!deferred_.empty()) {
        auto batch = std::exchange(deferred_, {});
        for (const auto& request : batch) listener_->on_client_request_finished(request);
    }
}

void RequestLifecycle::note_late_answer() {
    late_answers_.store(late_answers_.load(std::memory_order_relaxed) + 1,
                        std::memory_order_relaxed);
}

}  // namespace dinx::cluster
