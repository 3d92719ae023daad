// Messages by msgID, error frames, refusals and clients: the families of a scrape that sum
// every shard's counters.

#include "cluster/observe/metric_families.hpp"

#include "cluster/api/error.hpp"

#include <array>
#include <map>
#include <string>

namespace dinx::cluster {
namespace {

/// Every shard's counts of one msgID (or of all the unrouted ones).
struct MsgRow {
    std::string msg_id;  // the number, or "other"
    std::string route;
    MsgCounts counts;
    bool measured = false;  // a gate's request to another group: its latency is shown
};

std::string route_name(const dict::Topology& topology, std::uint32_t msg_id) {
    if (const auto* route = topology.config().find_route(msg_id)) return route->name;
    const auto& settings = topology.settings();
    if (msg_id == settings.heartbeat_msg_id) return "heartbeat";
    if (msg_id == settings.error_msg_id) return "error";
    if (msg_id == settings.kick_msg_id) return "kick";
    return "unrouted";  // routed before a reload: its row stays
}

std::vector<MsgRow> merge_rows(const std::vector<ShardStats>& shards, const dict::NodeInfo& info,
                               const dict::Topology& topology) {
    std::map<std::uint32_t, MsgCounts> by_id;
    MsgCounts other;
    for (const auto& shard : shards) {
        const auto& rows = shard.metrics.by_msg;
        for (std::size_t i = 0; i < rows.size(); ++i) {
            if (i == 0)
                other.add(rows[i]);
            else
                by_id[rows[i].msg_id].add(rows[i]);
        }
    }
    std::vector<MsgRow> merged;
    if (shards.empty() || shards[0].metrics.by_msg.empty()) return merged;  // counting is off
    auto own = topology.find_group(info.group);
    for (const auto& [msg_id, counts] : by_id) {
        auto group = topology.route(msg_id);
        bool elsewhere = info.is_frontend() && group && group != own;
        merged.push_back({std::to_string(msg_id), route_name(topology, msg_id), counts,
                          elsewhere || counts.latency.count > 0});
    }
    merged.push_back({"other", "other", other, other.latency.count > 0});
    return merged;
}

void write_latency(PrometheusWriter& out, const std::vector<MsgRow>& rows) {
    out.family("dinx_request_latency_seconds", "histogram",
               "Gate: from sending a client's request over a link to its first answer, by msgID.");
    std::vector<double> bounds;
    for (auto us : LatencyHistogram::bounds_us) bounds.push_back(static_cast<double>(us) / 1e6);
    for (const auto& row : rows) {
        if (!row.measured) continue;
        const auto& latency = row.counts.latency;
        std::vector<std::uint64_t> buckets(latency.buckets.begin(), latency.buckets.end());
        out.histogram({{"msg_id", row.msg_id}, {"route", row.route}}, bounds, buckets,
                      latency.count, static_cast<double>(latency.sum_ns) / 1e9);
    }
}

}  // namespace

void write_message_families(PrometheusWriter& out, const std::vector<ShardStats>& shards,
                            const dict::NodeInfo& info, const dict::Topology& topology) {
    auto rows = merge_rows(shards, info, topology);
    if (rows.empty()) return;
    struct Family {
        const char* name;
        const char* help;
        std::uint64_t MsgCounts::*field;
    };
    static constexpr Family families[] = {
        {"dinx_messages_in_total",
         "Messages in by msgID: client frames a gate read, requests that came over links.",
         &MsgCounts::in},
        {"dinx_message_bytes_in_total", "Payload bytes of those messages.", &MsgCounts::in_bytes},
        {"dinx_messages_out_total",
         "Frames toward clients by msgID: written to the node's own clients, or sent over a link "
         "to the client's gate.",
         &MsgCounts::out},
        {"dinx_message_bytes_out_total", "Payload bytes of those frames.", &MsgCounts::out_bytes},
    };
    for (const auto& family : families) {
        out.family(family.name, "counter", family.help);
        for (const auto& row : rows)
            out.sample("", {{"msg_id", row.msg_id}, {"route", row.route}},
                       row.counts.*family.field);
    }
    write_latency(out, rows);
}

void write_event_families(PrometheusWriter& out, const std::vector<ShardStats>& shards) {
    std::map<std::string, std::uint64_t> errors, closed;
    // dinx's own codes are shown from 0, so a rate over them works from their first frame.
    for (auto code = 0; code <= static_cast<int>(Error::already_logged_in); ++code)
        errors[std::string(to_string(static_cast<Error>(code)))] = 0;
    std::array<std::uint64_t, overload_causes> overloaded{};
    std::uint64_t refused = 0, dropped = 0, links_refused = 0, late = 0;
    for (const auto& shard : shards) {
        const auto& m = shard.metrics;
        for (const auto& [code, count] : m.error_frames.entries()) errors[code] += count;
        for (const auto& [rule, count] : m.clients_closed.entries()) closed[rule] += count;
        for (std::size_t i = 0; i < overload_causes; ++i) overloaded[i] += m.overloaded[i];
        refused += m.clients_refused;
        dropped += m.frames_to_gone_clients;
        links_refused += m.links_refused;
        late += m.late_answers;
    }
    out.family("dinx_error_frames_total", "counter",
               "Error frames this node made, by code (dinx's and the application's own).");
    for (const auto& [code, count] : errors) out.sample("", {{"code", code}}, count);
    out.family("dinx_requests_overloaded_total", "counter",
               "Requests refused with `overloaded`, by cause.");
    for (std::size_t i = 0; i < overload_causes; ++i)
        out.sample("", {{"cause", to_string(static_cast<OverloadCause>(i))}}, overloaded[i]);
    out.family("dinx_late_answers_total", "counter",
               "Answers dropped because their request was answered already.");
    out.sample("", {}, late);
    out.family("dinx_link_handshakes_refused_total", "counter",
               "Accepted link connections closed before their handshake ended (wrong secret, "
               "unknown node, garbage).");
    out.sample("", {}, links_refused);
    out.family("dinx_clients_closed_total", "counter",
               "Clients the gate closed for breaking a rule (not reading, oversized frames, ...).");
    for (const auto& [rule, count] : closed) out.sample("", {{"reason", rule}}, count);
    out.family("dinx_clients_refused_total", "counter",
               "Client connections closed at once because max_connections were connected.");
    out.sample("", {}, refused);
    out.family("dinx_client_frames_dropped_total", "counter",
               "Frames for a client of this gate that had left before they arrived.");
    out.sample("", {}, dropped);
}

void write_client_families(PrometheusWriter& out, const std::vector<ShardStats>& shards) {
    std::uint64_t clients = 0, bound = 0, queued = 0;
    for (const auto& shard : shards) {
        clients += shard.clients;
        bound += shard.bound;
        queued += shard.client_send_queue_bytes;
    }
    out.family("dinx_clients_connected", "gauge", "Client connections of this gate.");
    out.sample("", {}, clients);
    out.family("dinx_clients_bound", "gauge", "Client connections with a uid bound (logged in).");
    out.sample("", {}, bound);
    out.family("dinx_client_send_queue_bytes", "gauge",
               "Bytes queued to this gate's clients and not sent yet.");
    out.sample("", {}, queued);
}

}  // namespace dinx::cluster
