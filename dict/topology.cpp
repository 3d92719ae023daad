#include "dict/topology.hpp"

#include "dict/config_diff.hpp"

#include <algorithm>

namespace dinx::dict {

Topology::Topology(Config config, const Topology* previous, std::string version)
    : config_(std::move(config)), version_(std::move(version)) {
    if (version_.empty()) version_ = config_version(config_);
    if (previous) {
        copy_groups(*previous);
        generation_ = previous->generation_ + 1;
    }
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
    if (previous) remember_moves(*previous);
}

void Topology::copy_groups(const Topology& previous) {
    for (const auto& group : previous.groups_) groups_.push_back(Group{group.name, {}});
}

void Topology::remember_moves(const Topology& previous) {
    former_groups_ = previous.former_groups_;
    auto remember = [&](std::uint32_t msg_id, GroupId before) {
        auto& formers = former_groups_[msg_id];
        if (std::ranges::find(formers, before) == formers.end()) formers.push_back(before);
    };
    for (const auto& old_route : previous.config_.routes) {
        auto before = previous.route(old_route.msg_id);
        if (before && route(old_route.msg_id) != before) remember(old_route.msg_id, *before);
    }
    // A msgID back in a group it left is not waiting behind that group any more.
    for (auto it = former_groups_.begin(); it != former_groups_.end();) {
        auto now = route(it->first);
        if (now) std::erase(it->second, *now);
        it = it->second.empty() ? former_groups_.erase(it) : std::next(it);
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

bool Topology::in_group(GroupId group, std::uint32_t node_id) const {
    if (group >= groups_.size()) return false;
    return std::ranges::find(groups_[group].nodes, node_id) != groups_[group].nodes.end();
}

const std::vector<GroupId>& Topology::former_groups(std::uint32_t msg_id) const {
    static const std::vector<GroupId> none;
    if (former_groups_.empty()) return none;
    auto it = former_groups_.find(msg_id);
    return it == former_groups_.end() ? none : it->second;
}

}  // namespace dinx::dict
