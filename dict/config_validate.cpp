// The rules no single row can check: across the nodes of dinx.toml, across its nodes and the
// routes of route.toml, and the ports other processes must be able to dial.

#include "dict/config_loader.hpp"
#include "dict/config_reader.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <utility>

namespace dinx::dict {

namespace {

using detail::located;

/// Each node's host and port taken so far, with the node that took it.
using EndpointOwners = std::map<std::pair<std::string, std::uint16_t>, const NodeInfo*>;

std::string first_at(int line) {
    return " (first at line " + std::to_string(line) + ")";
}

// ---- nodes -------------------------------------------------------------------------------------

/// Port 0 asks the OS for any free port, so it can never collide.
void claim_port(EndpointOwners& used, const NodeInfo& node, std::uint16_t port,
                const Config& config) {
    if (port == 0) return;
    auto [it, fresh] = used.try_emplace({node.host, port}, &node);
    if (fresh) return;
    throw ConfigError(config.nodes_file, node.line,
                      "duplicate host:port " + node.host + ":" + std::to_string(port) +
                          " of node '" + node.name + "', already used by node '" +
                          it->second->name + "'" + first_at(it->second->line));
}

/// A port of its own key (a listener's, the admin or metrics endpoint), reported at that key.
void claim_key_port(EndpointOwners& used, const NodeInfo& node, const std::string& host,
                    std::uint16_t port, std::string_view what, int line, const Config& config) {
    if (port == 0) return;
    if (auto [it, fresh] = used.try_emplace({host, port}, &node); !fresh)
        throw ConfigError(config.nodes_file, line,
                          std::string(what) + " " + std::to_string(port) + " of node '" +
                              node.name + "' is already used by node '" + it->second->name + "'" +
                              first_at(it->second->line));
}

void check_endpoints(const NodeInfo& node, const Config& config, EndpointOwners& used) {
    if (node.is_frontend() && node.port != 0 && node.link_port == node.port) {
        throw ConfigError(config.nodes_file, node.line,
                          "frontend '" + node.name + "' has 'link_port' equal to 'port' (" +
                              std::to_string(node.port) + "); clients and links need two ports");
    }
    claim_port(used, node, node.port, config);
    if (node.is_frontend()) claim_port(used, node, node.link_port, config);
    for (const ListenerInfo& listener : node.listeners)
        claim_key_port(used, node, node.host, listener.port, "listener port", listener.port_line,
                       config);
    if (node.admin_port)
        claim_key_port(used, node, node.admin_host, *node.admin_port, "admin_port",
                       node.admin_port_line, config);
    if (node.metrics_port)
        claim_key_port(used, node, node.metrics_host, *node.metrics_port, "metrics_port",
                       node.metrics_port_line, config);
}

void check_unique_nodes(const Config& config) {
    std::map<std::uint32_t, const NodeInfo*> ids;
    std::map<std::string, const NodeInfo*> names;
    EndpointOwners endpoints;
    for (const NodeInfo& node : config.nodes) {
        auto fail = [&](const std::string& problem) {
            throw ConfigError(config.nodes_file, node.line, problem);
        };
        if (node.id == 0) fail("node id must not be 0");
        if (auto [it, fresh] = ids.try_emplace(node.id, &node); !fresh) {
            fail("duplicate node id " + std::to_string(node.id) + first_at(it->second->line));
        }
        if (auto [it, fresh] = names.try_emplace(node.name, &node); !fresh) {
            fail("duplicate node name '" + node.name + "'" + first_at(it->second->line));
        }
        check_endpoints(node, config, endpoints);
    }
}

/// A group is either gates or logic: a route to it must mean one kind of node.
void check_groups(const Config& config) {
    std::map<std::string, const NodeInfo*> first_of_group;
    for (const NodeInfo& node : config.nodes) {
        auto [it, fresh] = first_of_group.try_emplace(node.group, &node);
        if (fresh || it->second->type == node.type) continue;
        throw ConfigError(config.nodes_file, node.line,
                          "group '" + node.group + "' mixes frontend and backend nodes: '" +
                              node.name + "' is a " + std::string(to_string(node.type)) + " but '" +
                              it->second->name + "'" + first_at(it->second->line) + " is a " +
                              std::string(to_string(it->second->type)));
    }
    if (std::ranges::none_of(config.nodes, &NodeInfo::is_frontend)) {
        throw ConfigError(config.nodes_file, 0, "the cluster has no frontend node");
    }
}

// ---- routes ------------------------------------------------------------------------------------

void check_routes(const Config& config) {
    std::set<std::string_view> groups;
    for (const NodeInfo& node : config.nodes) groups.insert(node.group);
    std::map<std::uint32_t, const Route*> seen;
    for (const Route& route : config.routes) {
        std::string what = "msg_id " + std::to_string(route.msg_id) + " ('" + route.name + "')";
        auto fail = [&](const std::string& problem) {
            throw ConfigError(config.routes_file, route.line, what + problem);
        };
        if (route.msg_id == config.settings.error_msg_id) {
            fail(" is reserved for error frames (cluster.error_msg_id)");
        }
        if (route.msg_id == config.settings.heartbeat_msg_id) {
            fail(" is reserved for client heartbeats (cluster.heartbeat_msg_id)");
        }
        if (route.msg_id == config.settings.kick_msg_id) {
            fail(" is reserved for kick frames (cluster.kick_msg_id)");
        }
        if (auto [it, fresh] = seen.try_emplace(route.msg_id, &route); !fresh) {
            fail(" is already routed to group '" + it->second->group + "'" +
                 first_at(it->second->line));
        }
        if (!groups.contains(route.group)) {
            fail(" is routed to group '" + route.group + "', which has no node in " +
                 config.nodes_file);
        }
    }
}

// ---- events ------------------------------------------------------------------------------------

/// Session events go to the nodes of each listed group: a group without nodes would silently hear
/// nothing, and one listed twice would hear every event twice.
void check_event_groups(const Config& config) {
    std::set<std::string_view> groups;
    for (const NodeInfo& node : config.nodes) groups.insert(node.group);
    std::map<std::string_view, const EventGroup*> seen;
    for (const EventGroup& group : config.event_groups) {
        auto fail = [&](const std::string& problem) {
            throw ConfigError(config.routes_file, group.line, "[events] " + problem);
        };
        if (auto [it, fresh] = seen.try_emplace(group.name, &group); !fresh) {
            fail("lists group '" + group.name + "' twice" + first_at(it->second->line));
        }
        if (!groups.contains(group.name)) {
            fail("names group '" + group.name + "', which has no node in " + config.nodes_file);
        }
    }
}

// ---- ports other processes dial ----------------------------------------------------------------

bool runs_every_node(const Config& config, std::span<const std::uint32_t> ids) {
    return std::ranges::all_of(config.nodes, [&](const NodeInfo& node) {
        return std::ranges::find(ids, node.id) != ids.end();
    });
}

std::string port_zero(const Config& config, const NodeInfo& node, std::string_view key, int line,
                      const std::string& why) {
    return located(config.nodes_file, line > 0 ? line : node.line,
                   std::string(to_string(node.type)) + " '" + node.name + "' has '" +
                       std::string(key) + "' 0 (any free port): " + why + "; give it a fixed port");
}

/// The first port of `node` that is 0 but must be dialed from outside this process, or "".
std::string undialable_port(const Config& config, const NodeInfo& node, bool all_here) {
    if (node.is_frontend() && node.port == 0)
        return port_zero(config, node, "port", node.port_line,
                         "players could not know where to connect");
    if (all_here) return {};
    const std::string why =
        "nodes in other processes could not dial it (port 0 works only when one process runs "
        "every node)";
    if (node.port == 0 && !node.is_frontend())
        return port_zero(config, node, "port", node.port_line, why);
    if (node.link_port == 0 && node.is_frontend())
        return port_zero(config, node, "link_port", node.link_port_line, why);
    return {};
}

}  // namespace

std::string check_dialable_ports(const Config& config,
                                 std::span<const std::uint32_t> ids_run_here) {
    bool all_here = runs_every_node(config, ids_run_here);
    for (const NodeInfo& node : config.nodes) {
        if (auto problem = undialable_port(config, node, all_here); !problem.empty())
            return problem;
    }
    return {};
}

void validate(const Config& config) {
    check_unique_nodes(config);
    check_groups(config);
    check_routes(config);
    check_event_groups(config);
}

}  // namespace dinx::dict
