#pragma once
// The metrics endpoints of the nodes a process runs: one per running node with a metrics_port,
// on that node's home io thread. The Supervisor keeps one of these and syncs it when the nodes
// change (a reload started some, a retirement stopped one).

#include "cluster/observe/metrics_endpoint.hpp"
#include "cluster/runtime/process.hpp"

#include <cstdint>
#include <map>
#include <memory>

namespace dinx::cluster {

/// The endpoints of one process's nodes.
class MetricsServers {
public:
    /// Opens the endpoint of every running node of `process` (started) that has a
    /// metrics_port; throws std::system_error when one cannot listen.
    explicit MetricsServers(Process& process);
    /// Closes every endpoint (before the process stops its io threads).
    ~MetricsServers();
    MetricsServers(const MetricsServers&) = delete;
    MetricsServers& operator=(const MetricsServers&) = delete;

    /// Opens the endpoints of nodes started since and closes those of nodes that no longer
    /// run; an endpoint that cannot listen is logged, and its node runs on without it.
    void sync();

private:
    /// Opens node `id`'s endpoint if it has a metrics_port; throws std::system_error.
    void open(std::uint32_t id);

    Process& process_;
    std::map<std::uint32_t, std::shared_ptr<MetricsEndpoint>> endpoints_;
};

}  // namespace dinx::cluster
