#pragma once
// The families of a scrape that come from the shards' reports, by subject; node_metrics.cpp
// writes the rest and calls these when every shard answered.

#include "cluster/observe/node_stats.hpp"
#include "cluster/observe/prometheus_writer.hpp"
#include "dict/topology.hpp"

#include <vector>

namespace dinx::cluster {

/// Messages, bytes and latency by msgID (traffic_metrics.cpp).
void write_message_families(PrometheusWriter& out, const std::vector<ShardStats>& shards,
                            const dict::NodeInfo& info, const dict::Topology& topology);
/// Error frames, refusals, late answers, clients closed and refused (traffic_metrics.cpp).
void write_event_families(PrometheusWriter& out, const std::vector<ShardStats>& shards);
/// Clients connected and bound, their send queues (a gate's; traffic_metrics.cpp).
void write_client_families(PrometheusWriter& out, const std::vector<ShardStats>& shards);
/// Each peer's link state, queues and dials (link_metrics.cpp).
void write_link_families(PrometheusWriter& out, const std::vector<ShardStats>& shards,
                         const dict::Topology& topology);

}  // namespace dinx::cluster
