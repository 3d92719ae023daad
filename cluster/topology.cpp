#include "cluster/topology.hpp"

#include <algorithm>

namespace dinx::cluster {

Topology::Topology(dict::Config config) : config_(std::move(config)) {
    for (std::size_t i = 0; i < config_.nodes.size(); ++i) {
        const auto& node = config_.nodes[i];
        node_index_.emplace(node.id, i);
        if (node.is_frontend()) frontends_.push_back(node.id);
        auto it = std::find_if(groups_.begin(), groups_.end(),
                               [&](const Group& g) { return g.name == node.group; });
        if (it == groups_.end()) it = groups_.insert(groups_.end(), Group{node.group, {}});
        it->nodes.push_back(node.id);
    }
    direct_route_.assign(direct_routes, nullptr);
    for (const auto& route : config_.routes) {
        const Group* target = group(route.group);
        if (!target) continue;
        if (route.msg_id < direct_routes)
            direct_route_[route.msg_id] = target;
        else
            other_routes_.emplace(route.msg_id, target);
    }
}

const dict::NodeInfo* Topology::node(std::uint32_t id) const {
    auto it = node_index_.find(id);
    return it == node_index_.end() ? nullptr : &config_.nodes[it->second];
}

const Group* Topology::route(std::uint32_t msg_id) const {
    if (msg_id < direct_routes) return direct_route_[msg_id];
    auto it = other_routes_.find(msg_id);
    return it == other_routes_.end() ? nullptr : it->second;
}

const Group* Topology::group(std::string_view name) const {
    auto it = std::find_if(groups_.begin(), groups_.end(),
                           [&](const Group& g) { return g.name == name; });
    return it == groups_.end() ? nullptr : &*it;
}

}  // namespace dinx::cluster
