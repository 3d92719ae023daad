#include "cluster/testing.hpp"

#include <stdexcept>

namespace dinx::testing {
namespace {

SentFrame frame(std::uint32_t msg_id, Bytes payload) {
    return {msg_id, std::string(as_text(payload))};
}

}  // namespace

FakeContext::FakeContext(std::uint32_t msg_id, Origin client, dict::Config config,
                         std::uint32_t node_id)
    : msg_id_(msg_id), client_(std::move(client)), config_(std::move(config)), node_id_(node_id) {
    if (!config_.find_node(node_id_))
        throw std::invalid_argument("FakeContext: no node " + std::to_string(node_id_) +
                                    " in its config");
}

dict::Config FakeContext::one_gate() {
    dict::Config config;
    config.nodes.push_back(
        {1, "gate-1", "gate", dict::NodeType::frontend, "127.0.0.1", 10000, 10100, 0});
    return config;
}

void FakeContext::run_plain(const Handler& handler, std::string_view payload) {
    handler(*this, as_bytes(payload));
}

void FakeContext::run_coroutine(const CoroutineHandler& handler, std::string_view payload) {
    std::exception_ptr failure;
    bool ended = false;
    cluster::run_detached(handler(*this, as_bytes(payload)), [&](std::exception_ptr error) {
        failure = error;
        ended = true;
    });
    // Every await of the fake completes at once, so the handler is over by now.
    if (!ended) throw std::logic_error("FakeContext: the coroutine handler did not end");
    if (failure) std::rethrow_exception(failure);
}

namespace {

cluster::Task<void> store_reply(const Method& method, Context& ctx, Bytes payload,
                                std::optional<CallReply>& out) {
    out.emplace(co_await method(ctx, payload));
}

}  // namespace

CallReply FakeContext::run_method(const Method& method, std::string_view payload) {
    std::optional<CallReply> reply;
    std::exception_ptr failure;
    cluster::run_detached(store_reply(method, *this, as_bytes(payload), reply),
                          [&](std::exception_ptr error) { failure = error; });
    if (failure) std::rethrow_exception(failure);
    if (!reply) throw std::logic_error("FakeContext: the method did not end");
    return std::move(*reply);
}

CallReply FakeContext::next_reply(cluster::MethodId method) {
    auto it = call_replies_.find(method);
    if (it == call_replies_.end() || it->second.empty())
        return cluster::call_failure(
            CallError::no_node, "FakeContext: no reply set for method #" + std::to_string(method));
    CallReply reply = it->second.front();
    if (it->second.size() > 1) it->second.erase(it->second.begin());
    return reply;
}

Task<CallReply> FakeContext::do_call(cluster::CallTarget target, cluster::MethodId method,
                                     std::string payload, std::chrono::milliseconds timeout) {
    calls.push_back({std::move(target), method, std::move(payload), timeout, false});
    co_return next_reply(method);
}

Task<std::vector<cluster::NodeReply>> FakeContext::do_call_all(std::string group,
                                                               cluster::MethodId method,
                                                               std::string payload,
                                                               std::chrono::milliseconds timeout) {
    std::vector<std::uint32_t> nodes;
    if (auto it = group_nodes_.find(group); it != group_nodes_.end()) {
        nodes = it->second;
    } else {
        for (const auto& node : config_.nodes)
            if (node.group == group) nodes.push_back(node.id);
    }
    calls.push_back({cluster::CallTarget::any(group), method, std::move(payload), timeout, false});
    std::vector<cluster::NodeReply> replies;
    for (auto id : nodes) replies.push_back({id, next_reply(method)});
    co_return replies;
}

bool FakeContext::do_notify(const cluster::CallTarget& target, cluster::MethodId method,
                            Bytes payload) {
    calls.push_back({target, method, std::string(as_text(payload)), {}, true});
    return true;
}

Task<void> FakeContext::do_sleep(std::chrono::milliseconds delay) {
    sleeps.push_back(delay);
    co_return;
}

Task<void> FakeContext::do_blocking(std::function<void()> work) {
    ++blocking_runs;
    work();
    co_return;
}

const dict::NodeInfo& FakeContext::node() const {
    return *config_.find_node(node_id_);
}

const dict::NodeInfo* FakeContext::forwarded_by() const {
    return forwarded_by_ == 0 ? nullptr : config_.find_node(forwarded_by_);
}

std::optional<std::uint32_t> FakeContext::pick_node(std::string_view group, bool) const {
    if (auto it = picks_.find(group); it != picks_.end()) return it->second;
    auto nodes = config_.group_nodes(group);
    if (nodes.empty()) return std::nullopt;
    return nodes.front();
}

void FakeContext::do_reply(std::uint32_t msg_id, Bytes payload) {
    replies.push_back(frame(msg_id, payload));
}

void FakeContext::do_send_to(std::uint32_t gate_id, std::uint64_t conn_id, std::uint32_t msg_id,
                             Bytes payload) {
    pushes.push_back({gate_id, conn_id, frame(msg_id, payload)});
}

void FakeContext::do_broadcast(std::uint32_t msg_id, Bytes payload) {
    broadcasts.push_back(frame(msg_id, payload));
}

void FakeContext::do_forward(std::string_view group, std::uint32_t msg_id, Bytes payload,
                             bool avoid_self) {
    forwards.push_back({std::string(group), 0, avoid_self, frame(msg_id, payload)});
}

void FakeContext::do_forward_to(std::uint32_t node_id, std::uint32_t msg_id, Bytes payload) {
    forwards.push_back({{}, node_id, false, frame(msg_id, payload)});
}

bool FakeContext::do_bind(std::string uid) {
    cluster::require_uid_size(uid);
    if (!client_.uid.empty()) online_uids.erase(client_.uid);
    if (!uid.empty()) online_uids.insert(uid);
    client_.uid = uid;
    binds.push_back(std::move(uid));
    return true;
}

std::vector<std::string> FakeContext::members(std::string_view room) const {
    auto it = rooms.find(room);
    if (it == rooms.end()) return {};
    return {it->second.begin(), it->second.end()};
}

std::size_t FakeContext::room_size(std::string_view room) const {
    auto it = rooms.find(room);
    return it == rooms.end() ? 0 : it->second.size();
}

std::vector<std::string> FakeContext::do_push(const std::vector<std::string>& uids,
                                              std::uint32_t msg_id, Bytes payload) {
    std::vector<std::string> offline;
    for (const auto& uid : uids) {
        if (online_uid(uid))
            uid_pushes.push_back({uid, frame(msg_id, payload)});
        else
            offline.push_back(uid);
    }
    return offline;
}

bool FakeContext::do_kick(std::string_view uid, std::string_view reason) {
    if (!online_uid(uid)) return false;
    kicks.push_back({std::string(uid), std::string(reason)});
    return true;
}

bool FakeContext::do_join(std::string_view room, std::string_view uid) {
    std::string who(uid.empty() ? std::string_view(client_.uid) : uid);
    if (who.empty() || (!online_uid(who) && who != client_.uid)) return false;
    // The limit, as a gate enforces it.
    std::size_t in_rooms = 0;
    bool already = false;
    for (const auto& [name, members] : rooms) {
        if (!members.contains(who)) continue;
        ++in_rooms;
        already = already || name == room;
    }
    if (in_rooms >= max_session_rooms && !already) return false;
    rooms[std::string(room)].insert(who);
    return true;
}

bool FakeContext::do_leave(std::string_view room, std::string_view uid) {
    std::string who(uid.empty() ? std::string_view(client_.uid) : uid);
    auto it = rooms.find(room);
    if (it != rooms.end()) {
        it->second.erase(who);
        if (it->second.empty()) rooms.erase(it);
    }
    return !who.empty();
}

std::size_t FakeContext::do_send_to_room(std::string_view room, std::uint32_t msg_id, Bytes payload,
                                         std::string_view except_uid) {
    room_frames.push_back({std::string(room), std::string(except_uid), frame(msg_id, payload)});
    auto it = rooms.find(room);
    if (it == rooms.end()) return 0;
    return it->second.size() - (it->second.contains(std::string(except_uid)) ? 1 : 0);
}

void FakeContext::do_fail(std::string_view code, std::string_view message) {
    failures.push_back({std::string(code), std::string(message)});
}

}  // namespace dinx::testing
