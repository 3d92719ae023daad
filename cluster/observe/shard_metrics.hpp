#pragma once
// The counters of one shard, as its roles see them. Per-message counting (messages and bytes by
// msgID, request latency) happens only on nodes with a metrics_port: off, each call is one
// predictable branch and the clock is never read. Rare events (error frames, refusals, closes)
// are counted always: their own work costs far more than an increment.

#include "cluster/api/error.hpp"
#include "cluster/observe/metric_counts.hpp"
#include "dict/topology.hpp"

#include <chrono>
#include <cstdint>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace dinx::cluster {

/// One shard's metrics. Used on the shard's thread only.
class ShardMetrics {
public:
    using Clock = std::chrono::steady_clock;

    /// Starts counting messages, by the msgIDs of `topology` (a node with a metrics_port).
    void enable(const dict::Topology& topology);
    /// True when messages are counted.
    bool enabled() const { return enabled_; }
    /// Gives the msgIDs a reload added their own rows (rows of msgIDs it removed stay: counters
    /// never go back).
    void add_routes(const dict::Topology& topology);

    /// A message of `bytes` payload bytes came in (a client frame, a request from a link).
    void count_in(std::uint32_t msg_id, std::size_t bytes) {
        if (!enabled_) return;
        auto& counts = counts_.by_msg[row(msg_id)];
        ++counts.in;
        counts.in_bytes += bytes;
    }
    /// A frame of `bytes` payload bytes went toward a client.
    void count_out(std::uint32_t msg_id, std::size_t bytes) {
        if (!enabled_) return;
        auto& counts = counts_.by_msg[row(msg_id)];
        ++counts.out;
        counts.out_bytes += bytes;
    }
    /// When a request leaves for a link, if its latency is measured; else the epoch, without
    /// reading the clock.
    Clock::time_point send_time() const { return enabled_ ? Clock::now() : Clock::time_point{}; }
    /// The first answer to a request of `msg_id` sent at `sent` (not the epoch) arrived.
    void observe_latency(std::uint32_t msg_id, Clock::time_point sent) {
        counts_.by_msg[row(msg_id)].latency.observe(Clock::now() - sent);
    }

    /// An error frame with `code` was made here.
    void count_error(Error code) { counts_.error_frames.add(to_string(code)); }
    /// An error frame with `code` (dinx's or the application's own) was made here.
    void count_error(std::string_view code) { counts_.error_frames.add(code); }
    /// A request got `overloaded` for `cause`.
    void count_overloaded(OverloadCause cause) {
        ++counts_.overloaded[static_cast<std::size_t>(cause)];
    }
    /// A client was closed for breaking `rule` (a transport's violation text).
    void count_client_closed(std::string_view rule) { counts_.clients_closed.add(rule); }
    /// A connection was refused: max_connections reached.
    void count_client_refused() { ++counts_.clients_refused; }
    /// A frame was dropped because its client had left.
    void count_frame_to_gone_client() { ++counts_.frames_to_gone_clients; }
    /// An accepted link was closed before its handshake ended (not a node of ours, or a probe).
    void count_link_refused() { ++counts_.links_refused; }

    /// Everything counted so far.
    const MetricCounts& counts() const { return counts_; }

private:
    /// msgIDs below this have their row in a direct table.
    static constexpr std::uint32_t direct_rows = 4096;
    /// Rows at most: a bigger route table shares the "other" row beyond it.
    static constexpr std::size_t max_rows = 4096;

    /// The row of `msg_id` (0: not in the table).
    std::size_t row(std::uint32_t msg_id) const {
        if (msg_id < direct_rows) return direct_[msg_id];
        auto it = far_.find(msg_id);
        return it == far_.end() ? 0 : it->second;
    }
    /// Gives `msg_id` a row unless it has one.
    void add_row(std::uint32_t msg_id);

    bool enabled_ = false;
    MetricCounts counts_;
    std::vector<std::uint16_t> direct_;  // msg_id -> row, for small msgIDs
    std::unordered_map<std::uint32_t, std::uint16_t> far_;
};

}  // namespace dinx::cluster
