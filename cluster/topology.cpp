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
    for (const auto& route : config_.routes) {
        auto it = std::find_if(groups_.begin(), groups_.end(),
                               [&](const Group& g) { return g.name == route.group; });
        if (it != groups_.end())
            route_index_.emplace(route.msg_id, static_cast<std::size_t>(it - groups_.begin()));
    }
}

const dict::NodeInfo* Topology::node(std::uint32_t id) const {
    auto it = node_index_.find(id);
    return it == node_index_.end() ? nullptr : &config_.nodes[it->second];
}

const Group* Topology::route(std::uint32_t msg_id) const {
    auto it = route_index_.find(msg_id);
    return it == route_index_.end() ? nullptr : &groups_[it->second];
}

const Group* Topology::group(std::string_view name) const {
    auto it = std::find_if(groups_.begin(), groups_.end(),
                           [&](const Group& g) { return g.name == name; });
    return it == groups_.end() ? nullptr : &*it;
}

}  // namespace dinx::cluster
