#pragma once
// What runs a process's nodes from start to exit, on the thread that called run(): the stop and
// reload signals, live reloads, nodes that retire, and (from any thread) the operator's commands.

#include "cluster/api/handler.hpp"
#include "cluster/observe/admin_endpoint.hpp"
#include "cluster/observe/admin_service.hpp"
#include "cluster/runtime/live_reload.hpp"
#include "cluster/runtime/process.hpp"
#include "dict/config.hpp"

#include <asio/io_context.hpp>

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace dinx::cluster {

class MetricsServers;

/// Runs the nodes of one process until it is told to stop, and serves their admin commands.
class Supervisor final : public AdminService {
public:
    /// Will run nodes `ids` of the config in `conf_dir` (`every_node`: all of them, and those a
    /// reload adds) with `handlers`.
    Supervisor(std::filesystem::path conf_dir, std::vector<std::uint32_t> ids, bool every_node,
               std::shared_ptr<const HandlerTable> handlers);
    ~Supervisor() override;
    Supervisor(const Supervisor&) = delete;
    Supervisor& operator=(const Supervisor&) = delete;

    /// Starts the nodes of `config` (validated, its secret resolved) and serves until SIGINT or
    /// SIGTERM, or until every node retired; then drains and stops. Returns an ExitCode;
    /// `program` names the process in start-up errors.
    int run(dict::Config config, const std::string& program);

    /// Re-reads dinx.toml and route.toml and applies them; `why` says who asked (for the log).
    /// Runs on the control thread: call it from there (post()).
    ReloadReport reload(const std::string& why);
    /// Drains node `id` of this process and stops it; the process exits when none is left.
    /// False when this process does not run it. Control thread.
    bool retire(std::uint32_t id);
    /// Runs `work` on the control thread (in order with signals and other commands).
    void post(std::function<void()> work);
    /// The running process (valid while run() runs).
    Process& process() { return *process_; }

    void run_admin(std::uint32_t node_id, const AdminRequest& request,
                   std::function<void(std::string json)> answer) override;

private:
    /// A retired node stopped: the process ends when it was the last one.
    void on_retired(std::uint32_t id);
    /// Opens node `id`'s admin endpoint when its row asks for one (throws std::system_error
    /// when its port is taken). Control thread.
    void open_endpoints(std::uint32_t id);
    /// Closes node `id`'s endpoints. Control thread.
    void close_endpoints(std::uint32_t id);
    /// `status` of node `id`.
    void answer_status(std::uint32_t id, std::function<void(std::string)> answer);

    std::filesystem::path conf_dir_;
    std::vector<std::uint32_t> ids_;
    bool every_node_;
    std::shared_ptr<const HandlerTable> handlers_;
    asio::io_context control_;
    std::optional<Process> process_;
    std::map<std::uint32_t, std::unique_ptr<AdminEndpoint>> admin_endpoints_;
    std::mutex mutex_;  // needs_restart_ is written on the control thread, read by admin ones
    std::vector<std::string> needs_restart_;
    std::unique_ptr<MetricsServers> metrics_;  // GET /metrics of nodes with a metrics_port
};

}  // namespace dinx::cluster
