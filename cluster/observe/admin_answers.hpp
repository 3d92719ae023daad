#pragma once
// The JSON answers of the admin commands, built from what the node and its process know. The
// same answers serve `ctl --json` (printed as they are) and a person (ctl renders them).

#include "cluster/observe/node_stats.hpp"
#include "cluster/runtime/live_reload.hpp"
#include "dict/topology.hpp"

#include <string>
#include <vector>

namespace dinx::cluster {

/// What `status` tells of one node.
struct NodeStatus {
    const dict::NodeInfo* node = nullptr;          ///< its row in the running tables
    const dict::Topology* topology = nullptr;      ///< the tables it runs
    std::string state;                             ///< "running", "draining"
    std::vector<ShardStats> shards;                ///< each shard's report
    std::vector<std::string> needs_restart;        ///< changes the last reload kept back
    std::vector<std::uint32_t> process_nodes;      ///< the nodes its process runs
};

/// `status`: the node, its version, clients, links per peer (states over the shards).
std::string status_answer(const NodeStatus& status);
/// `routes`: every msgID with its route name, group and that group's nodes, and the events.
std::string routes_answer(const dict::Topology& topology);
/// `reload`: what the reload did.
std::string reload_answer(const ReloadReport& report);
/// A command that did something simple: {"ok": ok, "message": message} (or "error").
std::string simple_answer(bool ok, const std::string& message);

}  // namespace dinx::cluster
