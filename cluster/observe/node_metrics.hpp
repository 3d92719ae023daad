#pragma once
// One node's /metrics text, from what its shards reported and what the node and the process
// know. Names start with `dinx_` and every sample has a `node` label (docs/metrics.md lists
// them). A scrape whose shards did not all answer in time shows only what needs no shard, and
// `dinx_scrape_complete 0`: summing the shards that did answer would make counters go back,
// which Prometheus reads as a restart.

#include "cluster/observe/node_stats.hpp"
#include "dict/topology.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace dinx::cluster {

/// What a scrape of one node shows.
struct NodeMetricsInput {
    const dict::NodeInfo& info;        ///< the node's row
    const dict::Topology& topology;    ///< the tables it runs now
    std::size_t shards = 0;            ///< its shards
    std::size_t io_threads = 0;        ///< the process's io threads
    std::uint64_t resident_bytes = 0;  ///< the process's RSS
    std::uint64_t buffered_bytes = 0;  ///< the process's buffers counted in the memory budget
    std::uint64_t buffer_budget = 0;   ///< the limit of those buffers
    const std::vector<ShardStats>* stats = nullptr;  ///< every shard's, or null (late)
    double scrape_seconds = 0;                       ///< how long the shards took to answer
};

/// The text of a scrape, in Prometheus text format 0.0.4.
std::string render_node_metrics(const NodeMetricsInput& input);

/// The resident set size of this process, from /proc/self/statm (0 when unreadable).
std::uint64_t process_resident_bytes();

}  // namespace dinx::cluster
