// The group tables of dinx.toml (nodes) and route.toml (routes): `[[group]]` arrays of tables,
// read in the order the user wrote them; and route.toml's reserved `[events]` table.

#include "dict/config_reader.hpp"

#include <algorithm>
#include <array>
#include <optional>
#include <utility>
#include <vector>

namespace dinx::dict::detail {

namespace {

/// The reserved table of each file, never a group: `[cluster]` in dinx.toml, `[events]` in
/// route.toml.
constexpr std::string_view cluster_key = "cluster";
constexpr std::string_view events_key = "events";

// ---- groups ------------------------------------------------------------------------------------

/// One `[[group]]` table, wherever in the file it sits.
struct Row {
    std::string_view group;
    const toml::table* table;
    int line;
};

bool valid_group_name(std::string_view name) {
    auto allowed = [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_' || c == '-';
    };
    return !name.empty() && std::ranges::all_of(name, allowed);
}

/// Appends the tables of one group; `what` ("node", "route") words the error.
void collect_group(const toml::key& key, const toml::node& value, std::string_view what,
                   const std::string& file, std::vector<Row>& rows) {
    int key_line = line_of(key.source());
    if (!valid_group_name(key.str())) {
        throw ConfigError(file, key_line,
                          "group name '" + std::string(key.str()) + "' must match [A-Za-z0-9_-]+");
    }
    const toml::array* array = value.as_array();
    if (array == nullptr || !std::ranges::all_of(*array, &toml::node::is_table)) {
        throw ConfigError(file, key_line,
                          "'" + std::string(key.str()) + "' must be an array of tables ([[" +
                              std::string(key.str()) + "]]), one table per " + std::string(what));
    }
    for (const toml::node& element : *array) {
        const toml::table& table = *element.as_table();
        rows.push_back(Row{key.str(), &table, table_line(table)});
    }
}

/// Every group's tables in file order: toml++ keeps keys sorted by name, but nodes and routes
/// are listed (and their first error reported) in the order the user wrote them.
std::vector<Row> collect_rows(const toml::table& doc, std::string_view skip, std::string_view what,
                              const std::string& file) {
    std::vector<std::pair<const toml::key*, const toml::node*>> entries;
    for (auto&& [key, value] : doc) {
        if (key.str() != skip) entries.emplace_back(&key, &value);
    }
    std::ranges::sort(entries, {}, [](const auto& e) { return line_of(e.first->source()); });
    std::vector<Row> rows;
    for (auto [key, value] : entries) collect_group(*key, *value, what, file, rows);
    std::ranges::stable_sort(rows, {}, &Row::line);
    return rows;
}

// ---- nodes -------------------------------------------------------------------------------------

constexpr std::array<std::string_view, 12> node_keys{
    "id",        "name",       "type",         "host",       "port",         "link_port",
    "parallel",  "listeners",  "admin_port",   "admin_host", "metrics_port", "metrics_host"};

NodeType read_type(const toml::node& value, const TableReader& reader) {
    std::optional<std::string_view> text = value.value<std::string_view>();
    if (text == "frontend") return NodeType::frontend;
    if (text == "backend") return NodeType::backend;
    reader.fail(line_of(value.source()), R"('type' must be "frontend" or "backend")");
}

/// link_port exists only on frontends: a backend's links arrive on its single port.
std::uint16_t read_link_port(const NodeInfo& node, const TableReader& reader) {
    const toml::node* value = reader.find("link_port");
    if (!node.is_frontend()) {
        if (value == nullptr) return 0;
        reader.fail(line_of(value->source()), "'link_port' is only for frontend nodes; backend '" +
                                                  node.name + "' takes links on its 'port'");
    }
    const toml::node& port = reader.require("link_port");
    return static_cast<std::uint16_t>(reader.integer(port, "link_port", 0, u16_max));
}

/// `parallel` is for backends: a frontend's clients are spread over every io thread anyway.
bool read_parallel(const NodeInfo& node, const TableReader& reader) {
    const toml::node* value = reader.find("parallel");
    if (value == nullptr) return false;
    int line = line_of(value->source());
    if (node.is_frontend())
        reader.fail(line, "'parallel' is only for backend nodes; frontend '" + node.name +
                              "' always runs on every io thread");
    // is_boolean, not value<bool>: that one would take 1 for true.
    if (!value->is_boolean()) reader.fail(line, "'parallel' must be true or false");
    return value->as_boolean()->get();
}

/// An optional port of the node's operations endpoints (admin, metrics) and the host it binds.
void read_ops_endpoint(const TableReader& reader, std::string_view port_key,
                       std::string_view host_key, std::optional<std::uint16_t>& port,
                       std::string& host, int& port_line) {
    if (const toml::node* value = reader.find(port_key)) {
        port = static_cast<std::uint16_t>(reader.integer(*value, port_key, 0, u16_max));
        port_line = line_of(value->source());
    }
    if (const toml::node* value = reader.find(host_key)) {
        if (!port)
            reader.fail(line_of(value->source()), "'" + std::string(host_key) + "' needs '" +
                                                      std::string(port_key) + "'");
        host = reader.printable_text(*value, host_key, true);
    }
}

NodeInfo read_node(const Row& row, const std::string& file) {
    TableReader reader(*row.table, file, "a node of group '" + std::string(row.group) + "'");
    reader.allow_only(node_keys);
    NodeInfo node;
    node.group = row.group;
    node.line = row.line;
    node.id = static_cast<std::uint32_t>(reader.integer(reader.require("id"), "id", 1, u32_max));
    node.name = reader.printable_text(reader.require("name"), "name", true);
    node.type = read_type(reader.require("type"), reader);
    node.host = reader.printable_text(reader.require("host"), "host", true);
    node.port =
        static_cast<std::uint16_t>(reader.integer(reader.require("port"), "port", 0, u16_max));
    node.port_line = reader.key_line("port");
    node.link_port = read_link_port(node, reader);
    node.link_port_line = reader.key_line("link_port");
    node.parallel = read_parallel(node, reader);
    node.listeners = read_listeners(node, reader);
    read_ops_endpoint(reader, "admin_port", "admin_host", node.admin_port, node.admin_host,
                      node.admin_port_line);
    read_ops_endpoint(reader, "metrics_port", "metrics_host", node.metrics_port,
                      node.metrics_host, node.metrics_port_line);
    return node;
}

/// A group named `events` could hold nodes, but route.toml could never name it: there `events` is
/// the reserved table. Refused here, where the name is written.
void refuse_events_group(const toml::table& doc, const std::string& file) {
    auto it = doc.find(events_key);
    if (it == doc.end()) return;
    throw ConfigError(file, line_of(it->first.source()),
                      "'events' cannot be a group name: route.toml reserves [events] for the "
                      "groups that hear session events, so no route could name this group");
}

// ---- routes ------------------------------------------------------------------------------------

constexpr std::array<std::string_view, 2> route_keys{"msg_id", "name"};

Route read_route(const Row& row, const std::string& file) {
    TableReader reader(*row.table, file, "a route of group '" + std::string(row.group) + "'");
    reader.allow_only(route_keys);
    Route route;
    route.group = row.group;
    route.line = row.line;
    route.msg_id =
        static_cast<std::uint32_t>(reader.integer(reader.require("msg_id"), "msg_id", 0, u32_max));
    route.name = reader.printable_text(reader.require("name"), "name", false);
    return route;
}

// ---- events ------------------------------------------------------------------------------------

constexpr std::array<std::string_view, 1> events_keys{"groups"};

constexpr std::string_view groups_shape =
    R"('groups' in [events] must be an array of group names (strings), like groups = ["im"])";

/// One element of `groups`: a string, printable since a message about it quotes it.
EventGroup read_event_group(const toml::node& element, const TableReader& reader) {
    if (!element.is_string()) {
        reader.fail(line_of(element.source()), std::string(groups_shape));
    }
    return EventGroup{reader.printable_text(element, "groups", false), line_of(element.source())};
}

/// The names as written; whether each group exists, and once only, is for validate.
std::vector<EventGroup> read_events(const toml::node& value, int key_line,
                                    const std::string& file) {
    const toml::table* table = value.as_table();
    if (table == nullptr) {
        throw ConfigError(file, key_line,
                          "'events' is reserved for the groups that hear session events and must "
                          "be a table ([events]), not a group");
    }
    TableReader reader(*table, file, "[events]");
    reader.allow_only(events_keys);
    const toml::node& groups = reader.require("groups");
    const toml::array* array = groups.as_array();
    if (array == nullptr) {
        reader.fail(line_of(groups.source()), std::string(groups_shape));
    }
    std::vector<EventGroup> names;
    for (const toml::node& element : *array) names.push_back(read_event_group(element, reader));
    return names;
}

}  // namespace

void read_nodes(const toml::table& doc, Config& config) {
    const std::string& file = config.nodes_file;
    if (const toml::node* cluster = doc.get(cluster_key)) {
        int key_line = line_of(doc.find(cluster_key)->first.source());
        config.settings = read_settings(*cluster, key_line, file);
    }
    refuse_events_group(doc, file);
    for (const Row& row : collect_rows(doc, cluster_key, "node", file)) {
        config.nodes.push_back(read_node(row, file));
    }
}

void read_routes(const toml::table& doc, Config& config) {
    if (const toml::node* events = doc.get(events_key)) {
        int key_line = line_of(doc.find(events_key)->first.source());
        config.event_groups = read_events(*events, key_line, config.routes_file);
    }
    for (const Row& row : collect_rows(doc, events_key, "route", config.routes_file)) {
        config.routes.push_back(read_route(row, config.routes_file));
    }
}

}  // namespace dinx::dict::detail
