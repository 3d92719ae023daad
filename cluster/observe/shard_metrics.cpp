#include "cluster/observe/shard_metrics.hpp"

namespace dinx::cluster {

std::string_view to_string(OverloadCause cause) {
    switch (cause) {
        case OverloadCause::held_limit:
            return "held_limit";
        case OverloadCause::memory:
            return "memory";
        case OverloadCause::handler_queue:
            return "handler_queue";
        case OverloadCause::dial_queue:
            return "dial_queue";
        case OverloadCause::slow_peer:
            return "slow_peer";
    }
    return "unknown";
}

void ShardMetrics::enable(const dict::Topology& topology) {
    enabled_ = true;
    direct_.assign(direct_rows, 0);
    counts_.by_msg.assign(1, MsgCounts{});
    add_routes(topology);
}

void ShardMetrics::add_routes(const dict::Topology& topology) {
    if (!enabled_) return;
    // The system msgIDs get rows too: heartbeats are most of an idle gate's traffic, and error
    // frames out show how many requests failed.
    const auto& settings = topology.settings();
    for (auto msg_id : {settings.heartbeat_msg_id, settings.error_msg_id, settings.kick_msg_id})
        add_row(msg_id);
    for (const auto& route : topology.config().routes) add_row(route.msg_id);
}

void ShardMetrics::add_row(std::uint32_t msg_id) {
    if (row(msg_id) != 0 || counts_.by_msg.size() >= max_rows) return;
    auto index = static_cast<std::uint16_t>(counts_.by_msg.size());
    counts_.by_msg.push_back(MsgCounts{msg_id, 0, 0, 0, 0, {}});
    if (msg_id < direct_rows)
        direct_[msg_id] = index;
    else
        far_.emplace(msg_id, index);
}

}  // namespace dinx::cluster
