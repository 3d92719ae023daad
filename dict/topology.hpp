#pragma once
// An immutable snapshot of the cluster a node runs with: msgID -> group, group -> nodes, id ->
// node. Groups and nodes are named by index and id, never by pointer, so that whoever holds an
// id (a request in flight, a client's pin) stays valid across a later snapshot of the same
// cluster (live reload) and a snapshot can be copied.

#include "dict/config.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace dinx::dict {

/// A group's index in its Topology.
using GroupId = std::uint32_t;

/// A group of nodes: its name and its members' ids in file order.
struct Group {
    std::string name;
    std::vector<std::uint32_t> nodes;
};

/// Lookup tables over a validated Config.
class Topology {
public:
    /// Indexes `config`, which must have passed dict::validate. Given the `previous` snapshot
    /// of a running node, every group keeps its id (a group gone from the config stays, with no
    /// node), new groups get new ids, and each msgID remembers the groups it was routed to
    /// before, so ids held by requests in flight and by clients' pins stay meaningful. `version`
    /// names the tables (config_version of the files as loaded; computed when empty).
    explicit Topology(Config config, const Topology* previous = nullptr, std::string version = {});

    /// The configuration it was built from.
    const Config& config() const { return config_; }
    /// Cluster-wide settings.
    const Settings& settings() const { return config_.settings; }
    /// The node with this id, or nullptr.
    const NodeInfo* node(std::uint32_t id) const;
    /// The group that handles `msg_id`, or nullopt when no route names it.
    std::optional<GroupId> route(std::uint32_t msg_id) const;
    /// The group of this name, or nullopt.
    std::optional<GroupId> find_group(std::string_view name) const;
    /// Group `id` (which must come from this topology).
    const Group& group(GroupId id) const { return groups_[id]; }
    /// Ids of every frontend node, the targets of a broadcast.
    const std::vector<std::uint32_t>& frontends() const { return frontends_; }
    /// The groups whose nodes hear session events (route.toml's `[events]`), in file order.
    const std::vector<GroupId>& event_groups() const { return event_groups_; }
    /// True when node `node_id` is in group `group` now.
    bool in_group(GroupId group, std::uint32_t node_id) const;
    /// The groups `msg_id` was routed to by earlier snapshots of this node and is not now
    /// (empty for a msgID that never moved: the common case costs one lookup in a small map).
    const std::vector<GroupId>& former_groups(std::uint32_t msg_id) const;
    /// Number of groups, those left without nodes included.
    std::size_t group_count() const { return groups_.size(); }
    /// The version of the tables (16 hex digits), the same on every node that loaded them.
    const std::string& version() const { return version_; }
    /// How many snapshots this node ran before this one (0 at start).
    std::uint32_t generation() const { return generation_; }

private:
    /// The id a route table entry holds for "no route".
    static constexpr GroupId unrouted = ~GroupId{0};
    /// msgIDs below this are looked up in a direct table; games use small ids.
    static constexpr std::uint32_t direct_routes = 4096;

    Config config_;
    std::vector<Group> groups_;
    std::unordered_map<std::uint32_t, std::size_t> node_index_;  // id -> config_.nodes index
    std::vector<GroupId> direct_route_;                          // msg_id -> group or unrouted
    std::unordered_map<std::uint32_t, GroupId> other_routes_;
    /// Groups in `previous`'s order first, so their ids stay.
    void copy_groups(const Topology& previous);
    /// The routes of `previous` that differ now, added to what it remembered.
    void remember_moves(const Topology& previous);

    std::vector<std::uint32_t> frontends_;
    std::vector<GroupId> event_groups_;
    std::unordered_map<std::uint32_t, std::vector<GroupId>> former_groups_;
    std::string version_;
    std::uint32_t generation_ = 0;
};

}  // namespace dinx::dict
