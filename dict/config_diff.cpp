#include "dict/config_diff.hpp"

#include <algorithm>
#include <cstdio>
#include <map>

namespace dinx::dict {
namespace {

std::string port_text(const std::optional<std::uint16_t>& port) {
    return port ? std::to_string(*port) : "off";
}

std::string listener_text(const ListenerInfo& listener) {
    std::string text = std::string(to_string(listener.protocol)) + ":" +
                       std::to_string(listener.port) + " framing=" + listener.framing;
    if (listener.protocol == ListenerProtocol::websocket) {
        text += " path=" + listener.path + " subprotocol=" + listener.subprotocol +
                " web_root=" + listener.web_root + " origins=";
        for (const auto& origin : listener.origins) text += origin + ",";
    }
    if (listener.uses_tls()) text += " tls=" + listener.tls_cert + "," + listener.tls_key;
    return text;
}

/// FNV-1a, 64 bits: a version only has to tell configs apart, not resist an attacker.
std::uint64_t fnv1a(std::string_view text) {
    std::uint64_t hash = 0xcbf29ce484222325ULL;
    for (unsigned char c : text) {
        hash ^= c;
        hash *= 0x100000001b3ULL;
    }
    return hash;
}

std::map<std::uint32_t, const NodeInfo*> nodes_by_id(const Config& config) {
    std::map<std::uint32_t, const NodeInfo*> nodes;
    for (const auto& node : config.nodes) nodes.emplace(node.id, &node);
    return nodes;
}

std::map<std::uint32_t, const Route*> routes_by_id(const Config& config) {
    std::map<std::uint32_t, const Route*> routes;
    for (const auto& route : config.routes) routes.emplace(route.msg_id, &route);
    return routes;
}

std::vector<std::string> event_names(const Config& config) {
    std::vector<std::string> names;
    for (const auto& group : config.event_groups) names.push_back(group.name);
    return names;
}

std::vector<std::string> changed_fields(const NodeInfo& before, const NodeInfo& after) {
    auto old_fields = describe_node(before);
    auto new_fields = describe_node(after);
    std::vector<std::string> changed;
    for (std::size_t i = 0; i < old_fields.size(); ++i)
        if (old_fields[i].second != new_fields[i].second)
            changed.push_back(std::string(old_fields[i].first) + " " + old_fields[i].second +
                              " -> " + new_fields[i].second);
    return changed;
}

void diff_nodes(const Config& before, const Config& after, ConfigDiff& diff) {
    auto old_nodes = nodes_by_id(before);
    auto new_nodes = nodes_by_id(after);
    for (const auto& [id, node] : new_nodes) {
        auto it = old_nodes.find(id);
        if (it == old_nodes.end()) {
            diff.added.push_back(id);
            continue;
        }
        auto fields = changed_fields(*it->second, *node);
        if (!fields.empty()) diff.changed.push_back({id, node->name, std::move(fields)});
    }
    for (const auto& [id, node] : old_nodes)
        if (!new_nodes.contains(id)) diff.removed.push_back(id);
}

void diff_routes(const Config& before, const Config& after, ConfigDiff& diff) {
    auto old_routes = routes_by_id(before);
    auto new_routes = routes_by_id(after);
    for (const auto& [msg_id, route] : new_routes) {
        auto it = old_routes.find(msg_id);
        std::string from = it == old_routes.end() ? "" : it->second->group;
        if (from != route->group) diff.routes.push_back({msg_id, from, route->group});
    }
    for (const auto& [msg_id, route] : old_routes)
        if (!new_routes.contains(msg_id)) diff.routes.push_back({msg_id, route->group, ""});
    std::ranges::sort(diff.routes, {}, &RouteChange::msg_id);
}

void diff_settings(const Config& before, const Config& after, ConfigDiff& diff) {
    auto old_settings = describe_settings(before.settings);
    auto new_settings = describe_settings(after.settings);
    for (std::size_t i = 0; i < old_settings.size(); ++i)
        if (old_settings[i].value != new_settings[i].value)
            diff.settings.push_back({std::string(old_settings[i].key), old_settings[i].value,
                                     new_settings[i].value, old_settings[i].live});
}

std::string node_label(const Config& config, std::uint32_t id) {
    const auto* node = config.find_node(id);
    return node ? node->name + " (id " + std::to_string(id) + ", group " + node->group + ")"
                : "id " + std::to_string(id);
}

}  // namespace

std::vector<std::pair<std::string_view, std::string>> describe_node(const NodeInfo& node) {
    std::string listeners;
    for (const auto& listener : node.listeners) listeners += "[" + listener_text(listener) + "]";
    return {{"name", node.name},
            {"group", node.group},
            {"type", std::string(to_string(node.type))},
            {"host", node.host},
            {"port", std::to_string(node.port)},
            {"link_port", std::to_string(node.link_port)},
            {"parallel", node.parallel ? "true" : "false"},
            {"listeners", listeners},
            {"admin", node.admin_host + ":" + port_text(node.admin_port)},
            {"metrics", node.metrics_host + ":" + port_text(node.metrics_port)}};
}

std::string config_version(const Config& config) {
    std::string text;
    for (const auto& setting : describe_settings(config.settings))
        text += "setting " + std::string(setting.key) + "=" + setting.value + "\n";
    for (const auto& [id, node] : nodes_by_id(config)) {
        text += "node " + std::to_string(id);
        for (const auto& [field, value] : describe_node(*node))
            text += " " + std::string(field) + "=" + value;
        text += "\n";
    }
    for (const auto& [msg_id, route] : routes_by_id(config))
        text += "route " + std::to_string(msg_id) + " " + route->group + " " + route->name + "\n";
    for (const auto& name : event_names(config)) text += "events " + name + "\n";
    char digits[17];
    std::snprintf(digits, sizeof digits, "%016llx",
                  static_cast<unsigned long long>(fnv1a(text)));
    return digits;
}

bool ConfigDiff::empty() const {
    return routes.empty() && added.empty() && removed.empty() && changed.empty() &&
           settings.empty() && !events_changed;
}

std::vector<std::string> ConfigDiff::describe(const Config& before, const Config& after) const {
    std::vector<std::string> lines;
    for (const auto& route : routes) {
        auto id = "msg_id " + std::to_string(route.msg_id);
        if (route.from.empty())
            lines.push_back(id + " routed to " + route.to);
        else if (route.to.empty())
            lines.push_back(id + " no longer routed (was " + route.from + ")");
        else
            lines.push_back(id + " moved from " + route.from + " to " + route.to);
    }
    for (auto id : added) lines.push_back("node added: " + node_label(after, id));
    for (auto id : removed) lines.push_back("node removed: " + node_label(before, id));
    for (const auto& node : changed)
        for (const auto& field : node.fields) lines.push_back("node " + node.name + ": " + field);
    for (const auto& setting : settings)
        lines.push_back(setting.key + " " + setting.from + " -> " + setting.to);
    if (events_changed) lines.push_back("[events] groups changed");
    return lines;
}

std::vector<std::string> ConfigDiff::needs_restart(std::span<const std::uint32_t> ids_here) const {
    std::vector<std::string> lines;
    for (const auto& setting : settings)
        if (!setting.live)
            lines.push_back(setting.key + " " + setting.from + " -> " + setting.to +
                            " (applies when the process restarts)");
    for (const auto& node : changed) {
        if (std::ranges::find(ids_here, node.id) == ids_here.end()) continue;
        for (const auto& field : node.fields)
            lines.push_back("node " + node.name + " (runs here): " + field +
                            " (applies when the process restarts)");
    }
    return lines;
}

ConfigDiff diff_configs(const Config& before, const Config& after) {
    ConfigDiff diff;
    diff_routes(before, after, diff);
    diff_nodes(before, after, diff);
    diff_settings(before, after, diff);
    diff.events_changed = event_names(before) != event_names(after);
    return diff;
}

}  // namespace dinx::dict
