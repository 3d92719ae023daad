#include "cluster/observe/ctl.hpp"

#include "cluster/observe/admin_client.hpp"
#include "dict/config_loader.hpp"

#include <nlohmann/json.hpp>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdlib>
#include <iomanip>
#include <iostream>
#include <map>
#include <sstream>

namespace dinx::cluster {
namespace {

using nlohmann::json;

struct CtlOptions {
    std::string conf_dir = "conf";
    std::vector<std::string> nodes;  // ids or names; empty: every node with an admin_port
    bool json_output = false;
    int timeout_ms = 5000;
    std::string command;
    std::string argument;
};

/// One node's answer, or why there is none.
struct Reply {
    const dict::NodeInfo* node;
    std::optional<json> answer;
    std::string error;
    bool ok() const { return answer && answer->value("ok", false); }
};

std::string dial_host(const dict::NodeInfo& node) {
    // An endpoint bound to every address is dialed where the node's links are.
    bool any = node.admin_host == "0.0.0.0" || node.admin_host == "::";
    return any ? node.host : node.admin_host;
}

std::string cluster_secret(const dict::Config& config) {
    if (!config.settings.secret.empty()) return config.settings.secret;
    const char* from_env = std::getenv("DINX_CLUSTER_SECRET");
    return from_env ? from_env : "";
}

Reply ask(const dict::NodeInfo& node, const std::string& secret, const CtlOptions& options) {
    Reply reply{&node, std::nullopt, {}};
    try {
        AdminClient client(dial_host(node), *node.admin_port, node.id, secret,
                           std::chrono::milliseconds(options.timeout_ms));
        auto text = client.run(options.command, options.argument);
        auto parsed = json::parse(text, nullptr, false);
        if (parsed.is_discarded()) throw std::runtime_error("an answer that is not JSON");
        reply.answer = std::move(parsed);
    } catch (const std::exception& error) {
        reply.error = dial_host(node) + ":" + std::to_string(*node.admin_port) + ": " +
                      error.what();
    }
    return reply;
}

/// The nodes to ask: those named (which must have an admin_port), else every one that has one.
std::vector<const dict::NodeInfo*> targets(const dict::Config& config, const CtlOptions& options) {
    std::vector<const dict::NodeInfo*> chosen;
    for (const auto& wanted : options.nodes) {
        auto it = std::ranges::find_if(config.nodes, [&](const dict::NodeInfo& node) {
            return node.name == wanted || std::to_string(node.id) == wanted;
        });
        if (it == config.nodes.end())
            throw std::invalid_argument("no node '" + wanted + "' in " + config.nodes_file);
        if (!it->admin_port)
            throw std::invalid_argument("node '" + it->name + "' has no admin_port in " +
                                        config.nodes_file);
        chosen.push_back(&*it);
    }
    if (!options.nodes.empty()) return chosen;
    for (const auto& node : config.nodes)
        if (node.admin_port) chosen.push_back(&node);
    if (chosen.empty())
        throw std::invalid_argument("no node of " + config.nodes_file + " has an admin_port");
    return chosen;
}

// ---- rendering for a person ---------------------------------------------------------------

std::string links_text(const json& links) {
    std::string text;
    for (const auto& link : links) {
        if (!text.empty()) text += ", ";
        text += link.value("name", std::string("?"));
        const auto& states = link["states"];
        for (auto it = states.begin(); it != states.end(); ++it)
            text += (it == states.begin() ? " " : "+") + it.key() +
                    (states.size() > 1 ? "(" + std::to_string(it.value().get<int>()) + ")" : "");
    }
    return text.empty() ? "-" : text;
}

void print_status(const std::vector<Reply>& replies) {
    std::map<std::string, std::vector<std::string>> versions;
    std::cout << std::left << std::setw(12) << "NODE" << std::setw(10) << "GROUP" << std::setw(10)
              << "STATE" << std::setw(18) << "VERSION" << std::setw(16) << "CLIENTS"
              << "LINKS\n";
    for (const auto& reply : replies) {
        std::cout << std::setw(12) << reply.node->name;
        if (!reply.ok()) {
            std::cout << "unreachable: " << reply.error << '\n';
            continue;
        }
        const auto& a = *reply.answer;
        auto version = a.value("version", std::string("?"));
        versions[version].push_back(reply.node->name);
        std::string clients = "-";
        if (a.contains("clients"))
            clients = std::to_string(a["clients"].value("connected", 0)) + " (" +
                      std::to_string(a["clients"].value("bound", 0)) + " bound)";
        std::cout << std::setw(10) << reply.node->group << std::setw(10)
                  << a["node"].value("state", std::string("?")) << std::setw(18) << version
                  << std::setw(16) << clients << links_text(a["links"]) << '\n';
        for (const auto& line : a.value("needs_restart", json::array()))
            std::cout << "  needs a restart: " << line.get<std::string>() << '\n';
    }
    if (versions.size() == 1)
        std::cout << "every node that answered runs version " << versions.begin()->first << '\n';
    for (const auto& [version, names] : versions)
        if (versions.size() > 1) {
            std::cout << "VERSIONS DIFFER: " << version << " on";
            for (const auto& name : names) std::cout << ' ' << name;
            std::cout << '\n';
        }
}

void print_routes(const Reply& reply) {
    const auto& a = *reply.answer;
    std::cout << "version " << a.value("version", std::string("?")) << " (as "
              << reply.node->name << " runs it)\n"
              << std::left << std::setw(12) << "MSG_ID" << std::setw(16) << "NAME"
              << std::setw(12) << "GROUP" << "NODES\n";
    for (const auto& route : a["routes"]) {
        std::string nodes;
        for (const auto& name : route["nodes"])
            nodes += (nodes.empty() ? "" : ", ") + name.get<std::string>();
        std::cout << std::setw(12) << route.value("msg_id", 0u) << std::setw(16)
                  << route.value("name", std::string()) << std::setw(12)
                  << route.value("group", std::string()) << nodes << '\n';
    }
    std::string events;
    for (const auto& group : a["events"]) events += " " + group.get<std::string>();
    if (!events.empty()) std::cout << "session events go to:" << events << '\n';
}

void print_reload(const Reply& reply) {
    const auto& a = *reply.answer;
    std::cout << reply.node->name << ": ";
    if (!a.value("ok", false)) {
        std::cout << "refused, nothing changed: " << a.value("error", std::string()) << '\n';
        return;
    }
    std::cout << "version " << a.value("version_before", std::string()) << " -> "
              << a.value("version", std::string()) << '\n';
    for (const auto& line : a["changes"]) std::cout << "  " << line.get<std::string>() << '\n';
    for (const auto& line : a["needs_restart"])
        std::cout << "  needs a restart: " << line.get<std::string>() << '\n';
    for (const auto& id : a["retiring"]) std::cout << "  node " << id << " left: draining\n";
    for (const auto& id : a["started"]) std::cout << "  node " << id << " started\n";
    for (const auto& line : a["failures"])
        std::cout << "  could not start " << line.get<std::string>() << '\n';
}

void print_reply(const Reply& reply, const std::string& command) {
    if (!reply.answer) {
        std::cout << reply.node->name << ": unreachable: " << reply.error << '\n';
        return;
    }
    if (command == "routes" && reply.ok()) return print_routes(reply);
    if (command == "reload") return print_reload(reply);
    const auto& a = *reply.answer;
    std::cout << reply.node->name << ": "
              << (reply.ok() ? a.value("message", std::string("ok"))
                             : "failed: " + a.value("error", std::string()))
              << '\n';
}

json reply_json(const Reply& reply) {
    json out = {{"node", reply.node->name}, {"id", reply.node->id}};
    if (reply.answer)
        out["answer"] = *reply.answer;
    else
        out["error"] = reply.error;
    return out;
}

// ---- running a command --------------------------------------------------------------------

/// Commands every target answers (status, reload), or the first that can (routes, kick), or the
/// one node named (drain).
std::vector<Reply> run_command(const dict::Config& config, const CtlOptions& options) {
    auto secret = cluster_secret(config);
    std::vector<Reply> replies;
    if (options.command == "drain") {
        CtlOptions one = options;
        one.nodes = {options.argument};
        replies.push_back(ask(*targets(config, one)[0], secret, options));
        return replies;
    }
    bool first_only = options.command == "routes" || options.command == "kick";
    for (const auto* node : targets(config, options)) {
        replies.push_back(ask(*node, secret, options));
        if (first_only && replies.back().answer) break;
    }
    return replies;
}

void print(const std::vector<Reply>& replies, const CtlOptions& options) {
    if (options.json_output) {
        json nodes = json::array();
        for (const auto& reply : replies) nodes.push_back(reply_json(reply));
        std::cout << json{{"command", options.command}, {"nodes", nodes}}.dump(
                         2, ' ', false, json::error_handler_t::replace)
                  << '\n';
        return;
    }
    if (options.command == "status") return print_status(replies);
    for (const auto& reply : replies) print_reply(reply, options.command);
}

void add_commands(CLI::App& cli, CtlOptions& options) {
    cli.require_subcommand(1);
    cli.add_subcommand("status", "each node: state, tables' version, clients, links");
    cli.add_subcommand("routes", "the route table as a node runs it");
    cli.add_subcommand("reload", "each node re-reads dinx.toml and route.toml and applies them");
    cli.add_subcommand("drain", "NODE drains (its requests finish, new ones go elsewhere), stops")
        ->add_option("node", options.argument, "id or name")
        ->required();
    cli.add_subcommand("kick", "the player UID is kicked, wherever it is")
        ->add_option("uid", options.argument)
        ->required();
}

}  // namespace

int run_ctl(int argc, char** argv, const std::string& program) {
    CtlOptions options;
    CLI::App cli{program + " ctl: operates a running cluster through its nodes' admin endpoints",
                 program + " ctl"};
    cli.add_option("--conf", options.conf_dir, "directory holding dinx.toml")
        ->capture_default_str();
    cli.add_option("--node", options.nodes, "ask this node (id or name; repeatable)");
    cli.add_flag("--json", options.json_output, "print the answers as JSON");
    cli.add_option("--timeout-ms", options.timeout_ms, "deadline of each step")
        ->capture_default_str();
    add_commands(cli, options);
    CLI11_PARSE(cli, argc, argv);
    options.command = cli.get_subcommands().front()->get_name();
    try {
        auto config = dict::load_config(options.conf_dir);
        auto replies = run_command(config, options);
        print(replies, options);
        bool all_ok = std::ranges::all_of(replies, &Reply::ok);
        return all_ok ? 0 : 1;
    } catch (const dict::ConfigError& error) {
        std::cerr << program << " ctl: " << error.what() << '\n';
        return 2;
    } catch (const std::invalid_argument& error) {
        std::cerr << program << " ctl: " << error.what() << '\n';
        return 2;
    }
}

}  // namespace dinx::cluster
