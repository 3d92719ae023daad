#include "cluster/rpc/call_table.hpp"

#include <utility>

namespace dinx::cluster {

std::uint64_t CallTable::add(std::uint32_t node_id, Clock::time_point deadline, Done done) {
    auto id = next_id_++;
    auto at = deadlines_.emplace(deadline, id);
    calls_.emplace(id, Call{node_id, at, std::move(done)});
    return id;
}

CallTable::Done CallTable::take(std::uint64_t id) {
    auto it = calls_.find(id);
    if (it == calls_.end()) return {};
    Done done = std::move(it->second.done);
    deadlines_.erase(it->second.deadline);
    calls_.erase(it);
    return done;
}

bool CallTable::complete(std::uint64_t id, CallReply reply) {
    Done done = take(id);
    if (!done) return false;
    done(std::move(reply));
    return true;
}

std::size_t CallTable::end_all(const std::vector<std::uint64_t>& ids, const CallFailure& failure) {
    std::vector<Done> ending;
    ending.reserve(ids.size());
    for (auto id : ids)
        if (Done done = take(id)) ending.push_back(std::move(done));
    for (auto& done : ending) done(CallReply(failure));
    return ending.size();
}

std::vector<std::uint64_t> CallTable::ids_of(std::uint32_t node_id) const {
    std::vector<std::uint64_t> ids;
    for (const auto& [id, call] : calls_)
        if (call.node_id == node_id) ids.push_back(id);
    return ids;
}

std::size_t CallTable::fail_node(std::uint32_t node_id, const CallFailure& failure) {
    return end_all(ids_of(node_id), failure);
}

std::size_t CallTable::expire(Clock::time_point now) {
    std::vector<std::uint64_t> ids;
    for (auto it = deadlines_.begin(); it != deadlines_.end() && it->first <= now; ++it)
        ids.push_back(it->second);
    return end_all(ids, call_failure(CallError::deadline_exceeded,
                                     "no reply within the call's deadline; it may have run"));
}

std::size_t CallTable::fail_all(const CallFailure& failure) {
    std::vector<std::uint64_t> ids;
    ids.reserve(calls_.size());
    for (const auto& [id, call] : calls_) ids.push_back(id);
    return end_all(ids, failure);
}

std::optional<CallTable::Clock::time_point> CallTable::next_deadline() const {
    if (deadlines_.empty()) return std::nullopt;
    return deadlines_.begin()->first;
}

}  // namespace dinx::cluster
