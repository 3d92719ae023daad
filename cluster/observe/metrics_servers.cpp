#include "cluster/observe/metrics_servers.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace dinx::cluster {

MetricsServers::MetricsServers(Process& process) : process_(process) {
    try {
        for (auto id : process_.running_ids()) open(id);
    } catch (...) {
        for (auto& [id, endpoint] : endpoints_) endpoint->close();  // (no destructor runs)
        throw;
    }
}

MetricsServers::~MetricsServers() {
    for (auto& [id, endpoint] : endpoints_) endpoint->close();
}

void MetricsServers::open(std::uint32_t id) {
    auto& node = process_.node(id);
    const auto& info = node.info();
    if (!info.metrics_port || endpoints_.contains(id)) return;
    endpoints_[id] =
        MetricsEndpoint::open(node, node.home_io(), info.metrics_host, *info.metrics_port);
}

void MetricsServers::sync() {
    auto running = process_.running_ids();
    std::erase_if(endpoints_, [&](auto& entry) {
        if (std::ranges::find(running, entry.first) != running.end()) return false;
        entry.second->close();
        return true;
    });
    for (auto id : running) {
        try {
            open(id);
        } catch (const std::system_error& error) {
            spdlog::error("{}; the node runs without it", error.what());
        }
    }
}

}  // namespace dinx::cluster
