#pragma once
// What every role of a shard (links, requests, clients, delivery) knows of where it runs: the
// node, the io thread, the cluster snapshot, the log, the memory budget and the drain. Roles take
// this instead of the shard itself, so none of them includes another's header.

#include "cluster/gate/directory.hpp"
#include "cluster/observe/shard_metrics.hpp"
#include "cluster/runtime/address_book.hpp"
#include "cluster/runtime/drain.hpp"
#include "dict/topology.hpp"
#include "node/memory_budget.hpp"

#include <spdlog/logger.h>
#include <asio/io_context.hpp>

#include <memory>
#include <string>

namespace dinx::cluster {

/// One shard's place in the process, shared by its roles.
struct ShardContext {
    const dict::NodeInfo& info;                      ///< this node's dinx.toml row
    std::size_t index;                               ///< this shard's number in its node
    std::size_t shard_count;                         ///< shards of the node
    std::size_t thread;                              ///< the process io thread it runs on
    asio::io_context& io;                            ///< this shard's io_context
    spdlog::logger& log;                             ///< this node's logger
    AddressBook& addresses;                          ///< where other nodes listen
    std::shared_ptr<node::MemoryBudget> budget;      ///< the process's buffers
    std::shared_ptr<const dict::Topology> topology;  ///< the cluster this node runs with
    Directory& directory;                            ///< where every bound uid is
    Drain drain;                                     ///< what this shard owes before it stops
    ShardMetrics metrics;                            ///< what this shard counts for /metrics

    /// This node's id.
    std::uint32_t node_id() const { return info.id; }
    /// Cluster-wide settings.
    const dict::Settings& settings() const { return topology->settings(); }
    /// This io thread's count in the budget.
    node::MemoryBudget::Account& account() { return budget->account(thread); }
    /// Name of node `id` (or "#id" when unknown), for messages.
    std::string node_name(std::uint32_t id) const {
        const auto* node = topology->node(id);
        if (node) return node->name;
        std::string unknown = "#";  // (not "#" + ...: g++ 12 -O3 warns falsely on that)
        return unknown + std::to_string(id);
    }
};

}  // namespace dinx::cluster
