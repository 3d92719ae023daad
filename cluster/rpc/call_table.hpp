#pragma once
// The calls one shard made and that have no answer yet: each has the node it went to, its
// deadline and what to run with its outcome. Every call ends exactly once: by its reply, by
// the death of its node (the link drops), by its deadline, or by the shard stopping. The table
// knows no clock and no timer: the shard arms one timer at next_deadline() and calls expire().

#include "cluster/api/call.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace dinx::cluster {

/// The calls of one shard in flight. Used on its thread only.
class CallTable {
public:
    using Clock = std::chrono::steady_clock;
    /// What runs with a call's outcome (on the shard's thread; it may make new calls).
    using Done = std::function<void(CallReply)>;

    /// Remembers a call to `node_id` that must end by `deadline`; returns its id (never 0).
    std::uint64_t add(std::uint32_t node_id, Clock::time_point deadline, Done done);
    /// Call `id` got `reply` (a payload or a failure): it ends. False when it had ended already
    /// (a late reply, dropped).
    bool complete(std::uint64_t id, CallReply reply);
    /// The calls in flight to `node_id`.
    std::vector<std::uint64_t> ids_of(std::uint32_t node_id) const;
    /// Node `node_id` is gone with the calls it had: each ends with `failure`.
    std::size_t fail_node(std::uint32_t node_id, const CallFailure& failure);
    /// Calls whose deadline is at or before `now` end with deadline_exceeded.
    std::size_t expire(Clock::time_point now);
    /// Every call ends with `failure` (the shard stops).
    std::size_t fail_all(const CallFailure& failure);
    /// The earliest deadline of a call in flight, if any.
    std::optional<Clock::time_point> next_deadline() const;
    /// Calls in flight.
    std::size_t size() const { return calls_.size(); }

private:
    struct Call {
        std::uint32_t node_id = 0;
        std::multimap<Clock::time_point, std::uint64_t>::iterator deadline;
        Done done;
    };

    /// Removes call `id` and returns what runs with its outcome (empty when unknown).
    Done take(std::uint64_t id);
    /// Ends each of `ids` with `failure`: taken first, run after, so a `done` that makes new
    /// calls does not disturb the walk.
    std::size_t end_all(const std::vector<std::uint64_t>& ids, const CallFailure& failure);

    std::uint64_t next_id_ = 1;
    std::unordered_map<std::uint64_t, Call> calls_;
    std::multimap<Clock::time_point, std::uint64_t> deadlines_;
};

}  // namespace dinx::cluster
