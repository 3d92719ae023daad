#include "cluster/runtime/supervisor.hpp"

#include "cluster/api/app.hpp"
#include "cluster/observe/admin_answers.hpp"
#include "cluster/observe/metrics_servers.hpp"
#include "dict/config_loader.hpp"
#include "dict/topology.hpp"
#include "node/signals.hpp"

#include <spdlog/spdlog.h>
#include <asio/post.hpp>

#include <algorithm>
#include <iostream>

namespace dinx::cluster {

Supervisor::Supervisor(std::filesystem::path conf_dir, std::vector<std::uint32_t> ids,
                       bool every_node, std::shared_ptr<const HandlerTable> handlers)
    : conf_dir_(std::move(conf_dir)),
      ids_(std::move(ids)),
      every_node_(every_node),
      handlers_(std::move(handlers)) {}

Supervisor::~Supervisor() = default;

int Supervisor::run(dict::Config config, const std::string& program) {
    // Catch the signals before anything listens: a signal that arrives while the nodes start
    // must stop them cleanly, not kill the process (or be ignored, as in a background job).
    node::StopSignals stop_signals(control_, [&](int signal) {
        spdlog::info("{} received, stopping", signal == SIGINT ? "SIGINT" : "SIGTERM");
        control_.stop();
    });
    node::ReloadSignal reload_signal(control_, [this] { reload("SIGHUP"); });
    auto topology = std::make_shared<const dict::Topology>(std::move(config));
    spdlog::info("running the tables of version {}", topology->version());
    // A client listener's certificate or framing is checked as its node is made: a mistake is
    // the config's, with its file and line.
    try {
        process_.emplace(topology, handlers_, ids_);
    } catch (const dict::ConfigError& error) {
        std::cerr << "dinx: " << error.what() << '\n';
        return exit_bad_config;
    }
    try {
        process_->start();
        for (auto id : process_->running_ids()) open_endpoints(id);
        metrics_ = std::make_unique<MetricsServers>(*process_);
    } catch (const std::system_error& error) {
        std::cerr << program << ": cannot start: " << error.what() << '\n';
        return exit_start_failed;
    }
    control_.run();  // until a stop signal, or the last node retired
    for (auto id : process_->running_ids()) close_endpoints(id);
    auto started = std::chrono::steady_clock::now();
    auto timeout = std::chrono::milliseconds(process_->topology()->settings().drain_timeout_ms);
    bool drained = process_->drain(timeout);
    auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - started);
    if (drained)
        spdlog::info("drained in {} ms: every request in flight was answered", took.count());
    else
        spdlog::warn("drain timed out after {} ms; closing what is left", took.count());
    metrics_.reset();  // served during the drain; closed before the io threads stop
    process_->stop();
    return exit_ok;
}

ReloadReport Supervisor::reload(const std::string& why) {
    spdlog::info("reloading {} and {} ({})", (conf_dir_ / "dinx.toml").string(),
                 (conf_dir_ / "route.toml").string(), why);
    ReloadReport report;
    try {
        ReloadRules rules{handlers_.get(), every_node_,
                          [this](std::uint32_t id) { post([this, id] { on_retired(id); }); }};
        report = apply_reload(*process_, dict::load_config(conf_dir_), rules);
    } catch (const dict::ConfigError& error) {
        report.version = report.version_before = process_->topology()->version();
        report.error = error.what();
    }
    if (report.applied) {
        std::lock_guard lock(mutex_);
        needs_restart_ = report.needs_restart;
    }
    for (auto id : report.started) {
        try {
            open_endpoints(id);
        } catch (const std::system_error& error) {
            report.failures.push_back("the admin endpoint of node " + std::to_string(id) + ": " +
                                      error.what());
        }
    }
    if (metrics_) metrics_->sync();  // nodes the reload started or retired
    auto level = report.applied ? spdlog::level::info : spdlog::level::err;
    for (const auto& line : report.lines()) spdlog::log(level, "reload: {}", line);
    return report;
}

bool Supervisor::retire(std::uint32_t id) {
    auto running = process_->running_ids();
    if (std::ranges::find(running, id) == running.end()) return false;
    spdlog::info("node {} is told to drain, then stop", id);
    process_->retire(id, [this, id] { post([this, id] { on_retired(id); }); });
    return true;
}

void Supervisor::post(std::function<void()> work) {
    asio::post(control_, std::move(work));
}

void Supervisor::on_retired(std::uint32_t id) {
    spdlog::info("node {} drained and stopped", id);
    close_endpoints(id);
    metrics_->sync();
    if (process_->running_ids().empty()) {
        spdlog::info("no node left to run: exiting");
        control_.stop();
    }
}

void Supervisor::open_endpoints(std::uint32_t id) {
    const auto& node = process_->node(id);
    const auto& info = node.info();
    if (!info.admin_port) return;
    std::unique_ptr<AdminEndpoint> endpoint;
    try {
        endpoint = std::make_unique<AdminEndpoint>(process_->pool(), 0, info,
                                                   process_->topology()->settings().secret,
                                                   *this, *spdlog::default_logger());
    } catch (const std::system_error& error) {
        throw std::system_error(error.code(), info.name + " cannot listen for admin commands on " +
                                                  info.admin_host + ":" +
                                                  std::to_string(*info.admin_port));
    }
    endpoint->start();
    spdlog::info("{} takes admin commands on {}:{}", node.info().name, node.info().admin_host,
                 endpoint->port());
    admin_endpoints_[id] = std::move(endpoint);
}

void Supervisor::close_endpoints(std::uint32_t id) {
    auto it = admin_endpoints_.find(id);
    if (it == admin_endpoints_.end()) return;
    it->second->close();
    admin_endpoints_.erase(it);
}

void Supervisor::run_admin(std::uint32_t node_id, const AdminRequest& request,
                           std::function<void(std::string json)> answer) {
    const auto& command = request.command;
    if (command == "status") return answer_status(node_id, std::move(answer));
    if (command == "routes") return answer(routes_answer(*process_->topology()));
    if (command == "reload")
        return post([this, answer = std::move(answer)] {
            answer(reload_answer(reload("admin command")));
        });
    if (command == "drain")
        return post([this, node_id, answer = std::move(answer)] {
            bool draining = retire(node_id);
            answer(simple_answer(draining, draining ? "draining, then stopping"
                                                    : "this node is not running"));
        });
    if (command == "kick") {
        if (request.argument.empty()) return answer(simple_answer(false, "kick needs a uid"));
        return process_->node(node_id).kick(
            request.argument, "kicked by an operator", [answer = std::move(answer)](bool found) {
                answer(simple_answer(found, found ? "kicked" : "no session of this uid"));
            });
    }
    answer(simple_answer(false, "unknown command '" + command +
                                    "' (status, routes, reload, drain, kick)"));
}

void Supervisor::answer_status(std::uint32_t id, std::function<void(std::string)> answer) {
    auto& node = process_->node(id);
    auto running = process_->running_ids();
    NodeStatus status;
    status.state = std::ranges::find(running, id) != running.end() ? "running" : "draining";
    status.process_nodes = std::move(running);
    {
        std::lock_guard lock(mutex_);
        status.needs_restart = needs_restart_;
    }
    node.collect_stats([status = std::move(status), topology = node.topology(), &node,
                        answer = std::move(answer)](std::vector<ShardStats> shards) mutable {
        status.topology = topology.get();
        status.node = topology->node(node.info().id);
        if (!status.node) status.node = &node.info();  // left the config: draining
        status.shards = std::move(shards);
        answer(status_answer(status));
    });
}

}  // namespace dinx::cluster
