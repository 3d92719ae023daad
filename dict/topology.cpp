#include "dict/topology.hpp"

#include <algorithm>

namespace dinx::dict {

Topology::Topology(Config config) : config_(std::move(config)) {
    for (std::size_t i = 0; i < config_.nodes.size(); ++i) {
        const auto& node = config_.nodes[i];
        node_index_.emplace(node.id, i);
        if (node.is_frontend()) frontends_.push_back(node.id);
        auto id = find_group(node.group);
        if (!id) {
            id = static_cast<GroupId>(groups_.size());
            groups_.push_back(Group{node.group, {}});
        }
        groups_[*id].nodes.push_back(node.id);
    }
    direct_route_.assign(direct_routes, unrouted);
    for (const auto& route : config_.routes) {
        auto target = find_group(route.group);
        if (!target) continue;
        if (route.msg_id < direct_routes)
            direct_route_[route.msg_id] = *target;
        else
            other_routes_.emplace(route.msg_id, *target);
    }
    for (const auto& listener : config_.event_groups) {
        if (auto id = find_group(listener.name)) event_groups_.push_back(*id);
    }
}

const NodeInfo* Topology::node(std::uint32_t id) const {
    auto it = node_index_.find(id);
    return it == node_index_.end() ? nullptr : &config_.nodes[it->second];
}

std::optional<GroupId> Topology::route(std::uint32_t msg_id) const {
    if (msg_id < direct_routes) {
        auto id = direct_route_[msg_id];
        return id == unrouted ? std::nullopt : std::optional(id);
    }
    auto it = other_routes_.find(msg_id);
    return it == other_routes_.end() ? std::nullopt : std::optional(it->second);
}

std::optional<GroupId> Topology::find_group(std::string_view name) const {
    for (std::size_t i = 0; i < groups_.size(); ++i)
        if (groups_[i].name == name) return static_cast<GroupId>(i);
    return std::nullopt;
}

}  // namespace dinx::dict
