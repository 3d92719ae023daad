#pragma once
// What one shard counted for the metrics: plain numbers, changed on the shard's own thread only
// and copied out when a scrape asks (ShardStats), so the message path takes no lock and no
// atomic for them. Counters only grow; the scrape sums the shards.

#include "cluster/observe/latency_histogram.hpp"
#include "cluster/observe/named_counts.hpp"

#include <array>
#include <cstdint>
#include <vector>

namespace dinx::cluster {

/// Messages of one msgID on one shard: in and out (payload bytes, without frame headers) and,
/// at a gate, the latency of requests it sent over a link, to their first answer.
struct MsgCounts {
    std::uint32_t msg_id = 0;     ///< (not meaningful in the row of unrouted msgIDs)
    std::uint64_t in = 0;         ///< client frames read (gate), requests from links (any node)
    std::uint64_t in_bytes = 0;   ///< their payload bytes
    std::uint64_t out = 0;        ///< frames sent toward clients: to its own, or over a link
    std::uint64_t out_bytes = 0;  ///< their payload bytes
    LatencyHistogram latency;     ///< gate: request sent on a link to its first answer

    /// Adds another shard's counts of the same msgID.
    void add(const MsgCounts& other) {
        in += other.in;
        in_bytes += other.in_bytes;
        out += other.out;
        out_bytes += other.out_bytes;
        latency.add(other.latency);
    }
};

/// Why a request got `overloaded` instead of being sent on.
enum class OverloadCause : std::uint8_t {
    held_limit,     ///< too many of the client's requests wait behind its earlier ones (gate)
    memory,         ///< the process is over its memory budget
    handler_queue,  ///< too many of one client's requests wait for its coroutine handler
    dial_queue,     ///< too many envelopes wait for a link's dial
    slow_peer,      ///< the link to its node has more unsent than link_queue_bytes
};

/// Number of OverloadCause values.
inline constexpr std::size_t overload_causes = 5;

/// The label an OverloadCause is shown with ("held_limit", ...).
std::string_view to_string(OverloadCause cause);

/// One shard's counters.
struct MetricCounts {
    /// Per msgID: [0] holds every msgID outside the route table (and its system msgIDs), the
    /// others one msgID each, in the order they entered the table.
    std::vector<MsgCounts> by_msg;
    NamedCounts error_frames;    ///< error frames made here, by code
    NamedCounts clients_closed;  ///< clients closed for breaking a rule, by the rule
    std::array<std::uint64_t, overload_causes> overloaded{};  ///< requests refused, by cause
    std::uint64_t clients_refused = 0;  ///< connections closed at once: max_connections reached
    std::uint64_t frames_to_gone_clients = 0;  ///< frames dropped: their client had left
    std::uint64_t links_refused = 0;  ///< accepted links closed before their handshake ended
    std::uint64_t late_answers = 0;   ///< answers dropped: their request was answered already
};

}  // namespace dinx::cluster
