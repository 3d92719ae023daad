#include "cluster/api/app.hpp"

#include "cluster/link/link_handshake.hpp"
#include "cluster/observe/ctl.hpp"
#include "cluster/runtime/config_checks.hpp"
#include "cluster/runtime/supervisor.hpp"
#include "dict/config_loader.hpp"
#include "node/limits.hpp"

#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdlib>
#include <iostream>

namespace dinx::cluster {

struct App::Options {
    std::string program;
    std::vector<char*> ctl_args;  // `PROGRAM ctl ...`: the operator's command line, not a node
    std::string conf_dir = "conf";
    std::vector<std::uint32_t> ids;
    bool every_node = false;  // no --id: every node of the config, and those a reload adds
    std::string log_level = "info";
    std::uint16_t link_protocol = 0;  // 0: the newest this release speaks
    int parse_exit = -1;       // >= 0 when parsing ended the program (help or a mistake)
    std::string parse_output;  // what CLI11 wanted printed
};

namespace {

int report_config_error(const std::string& message) {
    std::cerr << "dinx: " << message << '\n';
    return exit_bad_config;
}

// Every client is an open file: raise the soft limit as far as allowed, and say so up front
// when even that is below what the frontends of this process may be asked to hold.
void warn_if_too_few_files(const dict::Config& config, const std::vector<std::uint32_t>& ids) {
    std::uint64_t limit = node::raise_open_file_limit();
    std::uint64_t wanted = 0;
    for (auto id : ids)
        if (config.find_node(id)->is_frontend()) wanted += config.settings.max_connections;
    if (limit < wanted)
        spdlog::warn(
            "the open-file limit is {} but this process's frontends accept up to {} clients "
            "(max_connections); raise the hard limit (ulimit -Hn, systemd LimitNOFILE=) or "
            "lower max_connections",
            limit, wanted);
}

// The secret comes from dinx.toml's secret_file or the environment, never the command line
// (which every user of the machine can read in ps).
void use_cluster_secret(dict::Settings& settings) {
    const char* from_env = std::getenv("DINX_CLUSTER_SECRET");
    if (settings.secret.empty() && from_env) settings.secret = from_env;
    if (settings.secret.empty()) {
        spdlog::warn(
            "NO CLUSTER SECRET: links between nodes are not authenticated, so they are accepted "
            "from this machine (loopback) only. Set DINX_CLUSTER_SECRET or [cluster] "
            "secret_file in dinx.toml.");
    } else if (settings.secret.size() < 16) {
        spdlog::warn("the cluster secret is only {} bytes; use at least 16 random bytes",
                     settings.secret.size());
    }
}

}  // namespace

App::App(int argc, char** argv, std::string program, std::string help_footer)
    : options_(std::make_unique<Options>()), handlers_(std::make_shared<HandlerTable>()) {
    options_->program = program;
    if (argc > 1 && std::string_view(argv[1]) == "ctl") {
        options_->ctl_args.assign(argv + 1, argv + argc);
        return;
    }
    CLI::App cli{program + ": runs nodes of a dinx cluster", program};
    cli.footer(help_footer);
    cli.add_option("--conf", options_->conf_dir, "directory holding dinx.toml and route.toml")
        ->capture_default_str();
    cli.add_option("--id", options_->ids, "id of a node to run (repeatable; default: every node)");
    cli.add_option("--link-protocol", options_->link_protocol,
                   "announce this link protocol version instead of the newest (a rolling "
                   "upgrade: keep the old nodes' version until every node runs this release)")
        ->check(CLI::Range(min_link_protocol_version, max_link_protocol_version));
    cli.add_option("--log-level", options_->log_level,
                   "trace, debug, info, warn, error, critical, off")
        ->capture_default_str()
        ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}));
    try {
        cli.parse(argc, argv);
    } catch (const CLI::ParseError& error) {
        std::ostringstream out, err;
        options_->parse_exit = cli.exit(error, out, err) == 0 ? exit_ok : exit_bad_config;
        options_->parse_output = out.str() + err.str();
    }
}

App::~App() = default;

void App::handle_plain(std::uint32_t msg_id, Handler handler) {
    handlers_->add(msg_id, std::move(handler));
}

void App::handle_coroutine(std::uint32_t msg_id, CoroutineHandler handler) {
    handlers_->add_coroutine(msg_id, std::move(handler));
}

void App::add_method(MethodRef method, Method run) {
    handlers_->add_method(method, std::move(run));
}

void App::every(std::string group, std::chrono::milliseconds period,
                std::function<void(Context&)> run) {
    if (period.count() <= 0) throw std::invalid_argument("a timer's period must be positive");
    handlers_->timers.push_back({std::move(group), period, std::move(run)});
}

void App::on_start(std::string group, std::function<Task<void>(Context&)> run) {
    handlers_->starters.push_back({std::move(group), std::move(run)});
}

void App::intercept(Interceptor interceptor) {
    handlers_->interceptors.push_back(std::move(interceptor));
}

void App::framing(std::shared_ptr<const FrameFormat> format) {
    handlers_->add_framing(std::move(format));
}

void App::on_session_event(SessionEventHandler handler) {
    handlers_->session_events = std::move(handler);
}

int App::run() {
    if (!options_->ctl_args.empty())
        return run_ctl(static_cast<int>(options_->ctl_args.size()), options_->ctl_args.data(),
                       options_->program);
    if (options_->parse_exit >= 0) {
        (options_->parse_exit == exit_ok ? std::cout : std::cerr) << options_->parse_output;
        return options_->parse_exit;
    }
    spdlog::set_level(spdlog::level::from_str(options_->log_level));
    dict::Config config;
    try {
        config = dict::load_config(options_->conf_dir);
    } catch (const dict::ConfigError& error) {
        return report_config_error(error.what());
    }
    if (auto problem = check_ids(config); !problem.empty()) return report_config_error(problem);
    if (auto problem = why_not_runnable(config, options_->ids, *handlers_); !problem.empty())
        return report_config_error(problem);
    return serve(std::move(config));
}

std::string App::check_ids(const dict::Config& config) {
    auto& ids = options_->ids;
    options_->every_node = ids.empty();
    if (ids.empty())
        for (const auto& node : config.nodes) ids.push_back(node.id);
    std::sort(ids.begin(), ids.end());
    if (auto twice = std::adjacent_find(ids.begin(), ids.end()); twice != ids.end())
        return "--id " + std::to_string(*twice) + " is given twice";
    for (auto id : ids)
        if (!config.find_node(id))
            return config.nodes_file + ": --id " + std::to_string(id) + ": no node has this id";
    return {};
}

int App::serve(dict::Config config) {
    for (const auto& warning : config.warnings) spdlog::warn("{}", warning);
    warn_if_too_few_files(config, options_->ids);
    use_cluster_secret(config.settings);
    config.settings.link_protocol = options_->link_protocol;
    if (options_->link_protocol != 0)
        spdlog::info("links announce protocol {} (this release speaks {} to {})",
                     options_->link_protocol, min_link_protocol_version, max_link_protocol_version);
    Supervisor supervisor(options_->conf_dir, options_->ids, options_->every_node, handlers_);
    return supervisor.run(std::move(config), options_->program);
}

}  // namespace dinx::cluster
