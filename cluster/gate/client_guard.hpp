#pragma once
// What a gate's shard keeps to protect itself from its clients: which connections have yet to
// send one complete frame (they are the first to go when the gate is full, so a flood of silent
// or trickling connections cannot lock honest players out), and one summary line per interval
// about the clients it closed or refused, instead of one line per client.

#include "node/event_summary.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <set>
#include <string_view>

namespace dinx::cluster {

/// The unproven clients of one shard and its summaries. Used on the shard's thread; the count
/// of unproven clients is published for the other shards of the node.
class ClientGuard {
public:
    /// `unproven_count` is where other shards read how many unproven clients this one holds.
    explicit ClientGuard(std::atomic<std::uint32_t>& unproven_count);

    /// A client was accepted: unproven until its first complete frame.
    void track(std::uint64_t conn_id);
    /// A client sent its first complete frame, or closed.
    void forget(std::uint64_t conn_id);
    /// The unproven client accepted first, if any.
    std::optional<std::uint64_t> oldest_unproven() const;
    /// Counts a client closed for breaking `violation`, for the summary.
    void note_violation(std::string_view violation, std::string_view remote);
    /// Counts a connection refused (max_connections reached), for the summary.
    void note_refused(std::string_view why, std::string_view remote);
    /// Logs the summaries whose interval passed.
    void log_if_due(spdlog::logger& log, std::chrono::steady_clock::time_point now);

private:
    std::set<std::uint64_t> unproven_;  // conn ids grow with time: the first is the oldest
    std::atomic<std::uint32_t>& unproven_count_;
    node::EventSummary closed_;
    node::EventSummary refused_;
};

}  // namespace dinx::cluster
