#include "cluster/observe/admin_answers.hpp"

#include <nlohmann/json.hpp>

#include <map>

namespace dinx::cluster {
namespace {

using nlohmann::json;

/// The text of `value`; bytes that are not UTF-8 (a uid a caller typed) become U+FFFD rather
/// than an exception.
std::string text(const json& value) {
    return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

/// A peer's state over the shards: the shards in each state, and sums.
json peer_json(const dict::Topology& topology, std::uint32_t id,
               const std::vector<const PeerStats*>& per_shard) {
    std::map<std::string, int> states;
    std::uint64_t in_flight = 0, queued = 0, unsent = 0;
    for (const auto* peer : per_shard) {
        ++states[std::string(peer->state)];
        in_flight += peer->in_flight;
        queued += peer->queued;
        unsent += peer->unsent_bytes;
    }
    const auto* node = topology.node(id);
    return {{"id", id},
            {"name", node ? node->name : "#" + std::to_string(id)},
            {"in_config", node != nullptr},
            {"states", states},
            {"in_flight", in_flight},
            {"queued", queued},
            {"unsent_bytes", unsent}};
}

json links_json(const NodeStatus& status) {
    std::map<std::uint32_t, std::vector<const PeerStats*>> peers;
    for (const auto& shard : status.shards)
        for (const auto& peer : shard.peers) peers[peer.node_id].push_back(&peer);
    json links = json::array();
    for (const auto& [id, per_shard] : peers)
        links.push_back(peer_json(*status.topology, id, per_shard));
    return links;
}

}  // namespace

std::string status_answer(const NodeStatus& status) {
    const auto& node = *status.node;
    std::uint64_t clients = 0, bound = 0;
    for (const auto& shard : status.shards) {
        clients += shard.clients;
        bound += shard.bound;
    }
    json answer = {{"ok", true},
                   {"node",
                    {{"id", node.id},
                     {"name", node.name},
                     {"group", node.group},
                     {"type", std::string(dict::to_string(node.type))},
                     {"state", status.state}}},
                   {"version", status.topology->version()},
                   {"generation", status.topology->generation()},
                   {"shards", status.shards.size()},
                   {"links", links_json(status)},
                   {"needs_restart", status.needs_restart},
                   {"process_nodes", status.process_nodes}};
    if (node.is_frontend()) answer["clients"] = {{"connected", clients}, {"bound", bound}};
    return text(answer);
}

std::string routes_answer(const dict::Topology& topology) {
    json routes = json::array();
    for (const auto& route : topology.config().routes) {
        json nodes = json::array();
        if (auto group = topology.find_group(route.group))
            for (auto id : topology.group(*group).nodes) nodes.push_back(topology.node(id)->name);
        routes.push_back({{"msg_id", route.msg_id},
                          {"name", route.name},
                          {"group", route.group},
                          {"nodes", nodes}});
    }
    json events = json::array();
    for (const auto& group : topology.config().event_groups) events.push_back(group.name);
    return text({{"ok", true},
                 {"version", topology.version()},
                 {"routes", routes},
                 {"events", events}});
}

std::string reload_answer(const ReloadReport& report) {
    json answer = {{"ok", report.applied},
                   {"version_before", report.version_before},
                   {"version", report.version},
                   {"changes", report.changes},
                   {"needs_restart", report.needs_restart},
                   {"retiring", report.retiring},
                   {"started", report.started},
                   {"failures", report.failures}};
    if (!report.applied) answer["error"] = report.error;
    return text(answer);
}

std::string simple_answer(bool ok, const std::string& message) {
    return text({{"ok", ok}, {ok ? "message" : "error", message}});
}

}  // namespace dinx::cluster
