#pragma once
// The read-only view of a Config that the message path needs: msgID -> group, group -> nodes,
// id -> node, built once so that no per-message lookup walks the config.

#include "dict/config.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace dinx::cluster {

/// A group of nodes: its name and its members' ids in file order.
struct Group {
    std::string name;
    std::vector<std::uint32_t> nodes;
};

/// Lookup tables over a validated Config.
class Topology {
public:
    /// Indexes `config`, which must have passed dict::validate.
    explicit Topology(dict::Config config);
    // The route tables point into groups_: a copy would point into the original.
    Topology(const Topology&) = delete;
    Topology& operator=(const Topology&) = delete;

    /// The configuration it was built from.
    const dict::Config& config() const { return config_; }
    /// Cluster-wide settings.
    const dict::Settings& settings() const { return config_.settings; }
    /// The node with this id, or nullptr.
    const dict::NodeInfo* node(std::uint32_t id) const;
    /// The group that handles `msg_id`, or nullptr when no route names it.
    const Group* route(std::uint32_t msg_id) const;
    /// The group of this name, or nullptr.
    const Group* group(std::string_view name) const;
    /// Ids of every frontend node, the targets of a broadcast.
    const std::vector<std::uint32_t>& frontends() const { return frontends_; }

private:
    dict::Config config_;
    std::vector<Group> groups_;
    std::unordered_map<std::uint32_t, std::size_t> node_index_;  // id -> config_.nodes index
    // msg_id -> group: a direct table for the small ids games use, a hash map for the rest.
    static constexpr std::uint32_t direct_routes = 4096;
    std::vector<const Group*> direct_route_;
    std::unordered_map<std::uint32_t, const Group*> other_routes_;
    std::vector<std::uint32_t> frontends_;
};

}  // namespace dinx::cluster
