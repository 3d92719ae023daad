#include "cluster/runtime/request_context.hpp"

#include "cluster/gate/client_session.hpp"
#include "cluster/gate/session_keeper.hpp"
#include "cluster/rpc/balancer.hpp"
#include "cluster/rpc/call_client.hpp"
#include "cluster/rpc/error_frame.hpp"
#include "cluster/rpc/request_lifecycle.hpp"
#include "cluster/runtime/delivery.hpp"
#include "cluster/runtime/shard_waits.hpp"

#include <stdexcept>

namespace dinx::cluster {

RequestContext::RequestContext(HandlerServices& services, ClientSession& client,
                               std::uint32_t msg_id)
    : services_(services),
      client_(&client),
      msg_id_(msg_id),
      origin_(client.origin()),
      session_(origin_, client.values()) {}

namespace {

SessionValues decode_values(Bytes encoded) {
    auto values = SessionValues::decode(encoded);
    return values ? std::move(*values) : SessionValues{};
}

}  // namespace

RequestContext::RequestContext(HandlerServices& services, Link& upstream, const Envelope& request)
    : services_(services),
      upstream_(&upstream),
      upstream_seq_(request.seq),
      via_(request.via),
      msg_id_(request.msg_id),
      origin_(request.origin),
      session_(origin_, decode_values(request.values)) {}

RequestContext::RequestContext(HandlerServices& services, const Origin& client,
                               std::optional<std::chrono::steady_clock::time_point> deadline)
    : services_(services),
      msg_id_(0),
      origin_(client),
      session_(origin_, {}),
      deadline_(deadline),
      open_ended_(!deadline) {
    finished_ = true;  // nobody waits for it to finish
}

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
    flush_session();
    if (!client_ && !upstream_) {  // a session event: a push to the client
        services_.delivery.deliver(origin_.gate_id, origin_.conn_id, msg_id, payload);
        answered_ = true;
        return;
    }
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
    services_.context.metrics.count_out(msg_id, payload.size());
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
    return Envelope{
        EnvelopeKind::request,      0, origin_, msg_id, services_.context.node_id(), payload,
        session_.values().encoded()};
}

PendingRequest RequestContext::continuation(std::uint32_t msg_id, Bytes payload) {
    flush_session();  // the forwarded node's answers come back after these changes
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

bool RequestContext::do_bind(std::string uid) {
    require_uid_size(uid);
    if (!uid.empty() &&
        services_.context.settings().login_policy == dict::LoginPolicy::refuse_newer) {
        auto held = services_.context.directory.find(uid);
        if (held && (held->gate_id != origin_.gate_id || held->conn_id != origin_.conn_id)) {
            fail(Error::already_logged_in, "uid " + uid + " is logged in on another session");
            return false;
        }
    }
    origin_.uid = std::move(uid);
    session_.record(SessionOp::bind, origin_.uid);
    return true;
}

void RequestContext::flush_session() {
    if (!session_.changed()) return;
    auto changes = session_.take_changes();
    if (client_) {
        services_.keeper.apply(*client_, changes.encoded());
        return;
    }
    if (!upstream_ || finished_) {  // an event, or after the answer: straight to the gate
        services_.delivery.apply_session(origin_.gate_id, origin_.conn_id, changes.encoded());
        return;
    }
    if (!upstream_->is_open()) {
        services_.requests.note_late_answer();
        return;
    }
    // Before the reply on the same way back, so the gate applies it before the reply arrives.
    std::uint64_t seq = upstream_is_gate() ? 0 : upstream_seq_;
    upstream_->send(Envelope{EnvelopeKind::session, seq, origin_, 0, 0, changes.encoded()});
}

bool RequestContext::online(std::string_view uid) const {
    return services_.context.directory.find(uid).has_value();
}

std::vector<std::string> RequestContext::members(std::string_view room) const {
    return services_.context.directory.members(room);
}

std::size_t RequestContext::room_size(std::string_view room) const {
    return services_.context.directory.room_size(room);
}

std::vector<std::string> RequestContext::do_push(const std::vector<std::string>& uids,
                                                 std::uint32_t msg_id, Bytes payload) {
    std::vector<std::string> offline;
    auto targets = services_.context.directory.uid_targets(uids, offline);
    services_.delivery.multicast(targets, msg_id, payload);
    return offline;
}

bool RequestContext::do_kick(std::string_view uid, std::string_view reason) {
    auto held = services_.context.directory.find(uid);
    if (!held) return false;
    services_.delivery.end_session(held->gate_id, held->conn_id, std::string(uid),
                                   DisconnectReason::kicked, std::string(reason));
    return true;
}

namespace {

void check_room(std::string_view room) {
    if (room.empty()) throw std::invalid_argument("a room name is not empty");
    if (room.size() > max_room_name)
        throw std::length_error("a room name is at most " + std::to_string(max_room_name) +
                                " bytes");
}

}  // namespace

bool RequestContext::change_room(SessionOp op, std::string_view room, std::string_view uid) {
    check_room(room);
    auto presence_op = op == SessionOp::join ? PresenceOp::join : PresenceOp::leave;
    auto& directory = services_.context.directory;
    std::string_view who = uid.empty() ? std::string_view(origin_.uid) : uid;
    // The gate enforces the limit; refused here as far as this node can see, so the handler
    // learns of it (a join racing ones this node has not heard of yet is dropped by the gate).
    if (op == SessionOp::join && directory.room_limit_reached(who, room)) return false;
    // A node other than the session's gate shows the change at once; the gate itself applies it
    // through its keeper, which also publishes it (seen early, it would find nothing to publish).
    auto show_early = [&](std::uint32_t gate_id, const std::string& member) {
        if (gate_id != services_.context.node_id())
            directory.change_room_seen(presence_op, std::string(room), member);
    };
    if (uid.empty() || uid == origin_.uid) {
        if (origin_.uid.empty()) return false;
        // With this request's other changes, in order: the gate applies them before the reply.
        session_.record(op, room);
        show_early(origin_.gate_id, origin_.uid);
        return true;
    }
    auto held = directory.find(uid);
    if (!held) return false;
    show_early(held->gate_id, std::string(uid));
    SessionChanges change;
    change.add(op, room, uid);  // applied only while that session still holds `uid`
    services_.delivery.apply_session(held->gate_id, held->conn_id, change.encoded());
    return true;
}

bool RequestContext::do_join(std::string_view room, std::string_view uid) {
    return change_room(SessionOp::join, room, uid);
}

bool RequestContext::do_leave(std::string_view room, std::string_view uid) {
    return change_room(SessionOp::leave, room, uid);
}

std::size_t RequestContext::do_send_to_room(std::string_view room, std::uint32_t msg_id,
                                            Bytes payload, std::string_view except_uid) {
    auto targets = services_.context.directory.room_targets(room, except_uid);
    std::size_t count = 0;
    for (const auto& gate : targets) count += gate.conn_ids.size();
    services_.delivery.multicast(targets, msg_id, payload);
    return count;
}

void RequestContext::do_fail(std::string_view code, std::string_view message) {
    auto body = error_payload(msg_id_, code, message);
    services_.context.metrics.count_error(code);
    do_reply(services_.context.settings().error_msg_id, as_bytes(body));
}

// --- calls -------------------------------------------------------------------------------------

namespace {

using Clock = std::chrono::steady_clock;

// Awaiting it makes one call; the coroutine resumes with its outcome.
class CallAwaiter {
public:
    CallAwaiter(CallClient& calls, std::uint32_t node_id, OutgoingCall call)
        : calls_(calls), node_id_(node_id), call_(std::move(call)) {}
    bool await_ready() const noexcept { return false; }
    // A call that fails at once ends inside start(): then the coroutine does not suspend.
    bool await_suspend(std::coroutine_handle<> waiting) {
        starting_ = true;
        calls_.start(node_id_, call_, [this, waiting](CallReply reply) {
            result_.emplace(std::move(reply));
            if (!starting_) waiting.resume();
        });
        starting_ = false;
        return !result_;
    }
    CallReply await_resume() { return std::move(*result_); }

private:
    CallClient& calls_;
    std::uint32_t node_id_;
    OutgoingCall call_;
    bool starting_ = false;
    std::optional<CallReply> result_;
};

// Awaiting it calls every node of a group at once; the coroutine resumes when all have ended.
class CallAllAwaiter {
public:
    CallAllAwaiter(CallClient& calls, const std::vector<std::uint32_t>& nodes, OutgoingCall call)
        : calls_(calls), call_(std::move(call)) {
        for (auto id : nodes)
            replies_.push_back({id, call_failure(CallError::cancelled, "not started")});
        remaining_ = replies_.size();
    }
    bool await_ready() const noexcept { return replies_.empty(); }
    bool await_suspend(std::coroutine_handle<> waiting) {
        starting_ = true;
        for (std::size_t i = 0; i < replies_.size(); ++i) {
            calls_.start(replies_[i].node_id, call_, [this, i, waiting](CallReply reply) {
                replies_[i].reply = std::move(reply);
                if (--remaining_ == 0 && !starting_) waiting.resume();
            });
        }
        starting_ = false;
        return remaining_ != 0;
    }
    std::vector<NodeReply> await_resume() { return std::move(replies_); }

private:
    CallClient& calls_;
    OutgoingCall call_;
    std::vector<NodeReply> replies_;
    std::size_t remaining_ = 0;
    bool starting_ = false;
};

// A stable hash of a sticky key: every node of the cluster must map a key to the same node.
std::uint64_t key_hash(std::string_view key) {
    std::uint64_t hash = 14695981039346656037ull;
    for (char c : key) {
        hash ^= static_cast<std::uint8_t>(c);
        hash *= 1099511628211ull;
    }
    return mix64(hash);
}

}  // namespace

Clock::time_point RequestContext::deadline() const {
    auto fresh =
        Clock::now() + std::chrono::milliseconds(services_.context.settings().call_timeout_ms);
    // A timer's, a starter's or an event's context answers no message: each call gets its
    // whole timeout, or a game loop's calls would all fail once its first deadline passed.
    if (open_ended_) return fresh;
    if (!deadline_) deadline_ = fresh;
    return *deadline_;
}

std::chrono::milliseconds RequestContext::remaining() const {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline() - Clock::now());
    return std::max(left, std::chrono::milliseconds(0));
}

Clock::time_point RequestContext::call_deadline(std::chrono::milliseconds timeout) const {
    if (timeout.count() <= 0)
        timeout = std::chrono::milliseconds(services_.context.settings().call_timeout_ms);
    return std::min(Clock::now() + timeout, deadline());
}

std::optional<std::uint32_t> RequestContext::call_node(const CallTarget& target,
                                                       CallFailure& why) const {
    const auto& topology = *services_.context.topology;
    if (target.node_id != 0) {
        if (topology.node(target.node_id)) return target.node_id;
        why = call_failure(CallError::no_node,
                           "no node with id " + std::to_string(target.node_id) + " in dinx.toml");
        return std::nullopt;
    }
    auto group = topology.find_group(target.group);
    if (!group || topology.group(*group).nodes.empty()) {
        why =
            call_failure(CallError::no_node, "no group named '" + target.group + "' in dinx.toml");
        return std::nullopt;
    }
    std::uint64_t key = 0;
    if (target.key)
        key = key_hash(*target.key);
    else if (origin_.conn_id != 0)
        key = sticky_key(origin_.gate_id, origin_.conn_id);
    else
        key = services_.calls.next_spread();
    auto node = services_.requests.pick_node(*group, key, std::nullopt);
    if (!node)
        why = call_failure(CallError::unavailable,
                           "no node of group '" + target.group + "' is reachable; not sent");
    return node;
}

Task<CallReply> RequestContext::do_call(CallTarget target, MethodId method, std::string payload,
                                        std::chrono::milliseconds timeout) {
    CallFailure why;
    auto node = call_node(target, why);
    if (!node) co_return why;
    // Named awaiters throughout: g++ 12 mishandles some temporaries in a co_await expression.
    CallAwaiter call(services_.calls, *node,
                     OutgoingCall{method, origin_, as_bytes(payload), call_deadline(timeout)});
    co_return co_await call;
}

Task<std::vector<NodeReply>> RequestContext::do_call_all(std::string group, MethodId method,
                                                         std::string payload,
                                                         std::chrono::milliseconds timeout) {
    const auto& topology = *services_.context.topology;
    auto id = topology.find_group(group);
    if (!id) co_return std::vector<NodeReply>{};
    CallAllAwaiter calls(services_.calls, topology.group(*id).nodes,
                         OutgoingCall{method, origin_, as_bytes(payload), call_deadline(timeout)});
    co_return co_await calls;
}

bool RequestContext::do_notify(const CallTarget& target, MethodId method, Bytes payload) {
    CallFailure why;
    auto node = call_node(target, why);
    return node &&
           services_.calls.notify(*node, OutgoingCall{method, origin_, payload, call_deadline({})});
}

Task<void> RequestContext::do_sleep(std::chrono::milliseconds delay) {
    SleepAwaiter sleeping{services_.waits, delay};
    co_await sleeping;
}

Task<void> RequestContext::do_blocking(std::function<void()> work) {
    BlockingAwaiter blocked{services_.waits, std::move(work)};
    co_await blocked;
}

void RequestContext::finish() {
    flush_session();
    if (!upstream_ || finished_ || forwarded_) return;
    finished_ = true;
    if (upstream_->is_open())
        upstream_->send(Envelope{EnvelopeKind::done, upstream_seq_, {}, 0, 0, {}});
}

}  // namespace dinx::cluster
