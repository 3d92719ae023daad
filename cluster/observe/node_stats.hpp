#pragma once
// What a node's shards report when asked (an admin `status`, a metrics scrape): each shard
// fills its own ShardStats on its own thread, from the tables it owns, so nothing on the
// message path takes a lock or an atomic for it.

#include "cluster/observe/metric_counts.hpp"

#include <cstdint>
#include <string_view>
#include <vector>

namespace dinx::cluster {

/// What one shard's link table knows of another node.
struct PeerStats {
    std::uint32_t node_id = 0;
    /// "idle" (no link yet), "dialing", "up", "draining" (it is leaving), "down" (unreachable).
    std::string_view state;
    std::uint64_t in_flight = 0;     ///< requests sent on its links and not finished
    std::uint64_t queued = 0;        ///< envelopes waiting for its dial
    std::uint64_t unsent_bytes = 0;  ///< bytes written to its links and not sent yet

    std::uint64_t dials = 0;               ///< connects started to it (the first and reconnects)
    std::uint64_t dial_failures = 0;       ///< dials that failed, and links declared dead
    std::uint64_t handshake_failures = 0;  ///< dialed links whose handshake did not complete
    std::uint64_t dropped = 0;             ///< envelopes (not requests) lost: it was unreachable
};

/// One shard's report.
struct ShardStats {
    std::uint32_t clients = 0;     ///< client connections on this shard (gates)
    std::uint32_t bound = 0;       ///< those with a uid bound
    std::vector<PeerStats> peers;  ///< every node this shard has a link table entry for
    std::uint64_t client_send_queue_bytes = 0;  ///< bytes queued to its clients, not sent yet
    MetricCounts metrics;                       ///< its counters (metric_counts.hpp)
};

}  // namespace dinx::cluster
