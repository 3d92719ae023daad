#include "dict/config.hpp"

#include <algorithm>

namespace dinx::dict {

std::string_view to_string(NodeType type) {
    return type == NodeType::frontend ? "frontend" : "backend";
}

std::string_view to_string(LoginPolicy policy) {
    return policy == LoginPolicy::kick_older ? "kick_older" : "refuse_newer";
}

std::string_view to_string(ListenerProtocol protocol) {
    return protocol == ListenerProtocol::tcp ? "tcp" : "websocket";
}

const NodeInfo* Config::find_node(std::uint32_t id) const {
    auto it = std::ranges::find(nodes, id, &NodeInfo::id);
    return it == nodes.end() ? nullptr : &*it;
}

const Route* Config::find_route(std::uint32_t msg_id) const {
    auto it = std::ranges::find(routes, msg_id, &Route::msg_id);
    return it == routes.end() ? nullptr : &*it;
}

std::vector<std::uint32_t> Config::group_nodes(std::string_view group) const {
    std::vector<std::uint32_t> ids;
    for (const NodeInfo& node : nodes) {
        if (node.group == group) ids.push_back(node.id);
    }
    return ids;
}

}  // namespace dinx::dict
