#include "cluster/runtime/live_reload.hpp"

#include "cluster/runtime/config_checks.hpp"
#include "dict/config_diff.hpp"
#include "dict/config_error.hpp"
#include "dict/config_loader.hpp"

#include <algorithm>
#include <system_error>

namespace dinx::cluster {
namespace {

bool holds(const std::vector<std::uint32_t>& ids, std::uint32_t id) {
    return std::ranges::find(ids, id) != ids.end();
}

/// Which of the running nodes stay and which go, and which of `loaded`'s new nodes start here.
struct Placement {
    std::vector<std::uint32_t> kept;
    std::vector<std::uint32_t> removed;
    std::vector<std::uint32_t> added;
};

Placement place(const Process& process, const dict::Config& loaded, bool every_node) {
    Placement placement;
    for (auto id : process.running_ids())
        (loaded.find_node(id) ? placement.kept : placement.removed).push_back(id);
    if (!every_node) return placement;
    auto known = process.topology();
    for (const auto& node : loaded.nodes)
        if (!known->node(node.id) && !holds(placement.kept, node.id))
            placement.added.push_back(node.id);
    return placement;
}

/// `loaded` as this process can run it: settings that need a restart, and the rows of the
/// nodes it runs, keep their running values.
dict::Config runnable(dict::Config loaded, const dict::Config& running,
                      const std::vector<std::uint32_t>& kept) {
    dict::keep_restart_only(running.settings, loaded.settings);
    for (auto& node : loaded.nodes)
        if (holds(kept, node.id)) node = *running.find_node(node.id);
    return loaded;
}

/// Why this process cannot run `loaded`: a route to a group it runs with no handler, or a
/// node row the reload adds or changes with a port 0 that another process must dial (rows it
/// keeps were accepted at start).
std::string why_not_runnable(const dict::Config& running, const dict::Config& loaded,
                             const std::vector<std::uint32_t>& runs_here,
                             const HandlerTable& handlers) {
    if (auto problem = missing_handler(loaded, runs_here, handlers); !problem.empty())
        return problem;
    dict::Config changed = loaded;
    std::erase_if(changed.nodes, [&](const dict::NodeInfo& node) {
        const auto* before = running.find_node(node.id);
        return before && dict::describe_node(*before) == dict::describe_node(node);
    });
    return dict::check_dialable_ports(changed, runs_here);
}

void start_added(Process& process, const std::vector<std::uint32_t>& added,
                 ReloadReport& report) {
    for (auto id : added) {
        if (process.has_node(id)) {  // its Node object stopped, and is kept until the end
            report.failures.push_back("node " + std::to_string(id) +
                                      ": it stopped in this process earlier; restart the "
                                      "process to run it again");
            continue;
        }
        try {
            process.add_node(id);
            report.started.push_back(id);
        } catch (const std::system_error& error) {
            report.failures.push_back("node " + std::to_string(id) + ": " + error.what());
        } catch (const dict::ConfigError& error) {
            report.failures.push_back(error.what());
        }
    }
}

}  // namespace

std::vector<std::string> ReloadReport::lines() const {
    if (!applied) return {"reload refused, nothing changed: " + error};
    std::vector<std::string> out;
    out.push_back("version " + version_before + " -> " + version +
                  (changes.empty() ? ": no change" : ""));
    for (const auto& change : changes) out.push_back(change);
    for (const auto& line : needs_restart) out.push_back("needs a restart: " + line);
    for (auto id : retiring)
        out.push_back("node " + std::to_string(id) + " left the config: draining, then stopping");
    for (auto id : started) out.push_back("node " + std::to_string(id) + " started");
    for (const auto& failure : failures) out.push_back("could not start " + failure);
    return out;
}

ReloadReport apply_reload(Process& process, dict::Config loaded, const ReloadRules& rules) {
    auto running = process.topology();
    ReloadReport report;
    report.version_before = running->version();
    auto placement = place(process, loaded, rules.every_node);
    auto runs_here = placement.kept;
    runs_here.insert(runs_here.end(), placement.added.begin(), placement.added.end());
    auto problem = why_not_runnable(running->config(), loaded, runs_here, *rules.handlers);
    if (!problem.empty()) {
        report.version = report.version_before;
        report.error = problem;
        return report;
    }
    auto diff = dict::diff_configs(running->config(), loaded);
    report.changes = diff.describe(running->config(), loaded);
    report.needs_restart = diff.needs_restart(placement.kept);
    report.version = dict::config_version(loaded);
    auto effective = runnable(std::move(loaded), running->config(), placement.kept);
    process.apply(
        std::make_shared<const dict::Topology>(std::move(effective), running.get(), report.version));
    report.applied = true;
    for (auto id : placement.removed) {
        report.retiring.push_back(id);
        process.retire(id, [on_retired = rules.on_retired, id] {
            if (on_retired) on_retired(id);
        });
    }
    start_added(process, placement.added, report);
    return report;
}

}  // namespace dinx::cluster
