#pragma once
// A live reload: a newly loaded config applied to a running process, checked exactly as a start
// would check it. Routes move, nodes come and go, settings that can change do; what cannot
// change without a restart is named in the report and keeps its running value.

#include "cluster/api/handler.hpp"
#include "cluster/runtime/process.hpp"
#include "dict/config.hpp"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace dinx::cluster {

/// What a reload did, for its log lines and its answer to the operator.
struct ReloadReport {
    bool applied = false;                    ///< false: nothing changed (see `error`)
    std::string error;                       ///< why it was refused ("file:line: problem")
    std::string version_before;              ///< the tables' version before
    std::string version;                     ///< the tables' version now
    std::vector<std::string> changes;        ///< one line per change applied
    std::vector<std::string> needs_restart;  ///< changes kept back until a restart
    std::vector<std::uint32_t> retiring;     ///< this process's nodes that left: draining
    std::vector<std::uint32_t> started;      ///< nodes this process started
    std::vector<std::string> failures;       ///< nodes it could not start, with why

    /// The report as lines for a person (the log, `ctl reload`).
    std::vector<std::string> lines() const;
};

/// How a process takes a reload.
struct ReloadRules {
    /// The program's handlers: a route to a group run here needs one.
    const HandlerTable* handlers = nullptr;
    /// True when the process runs every node of the config (no --id): it starts the nodes a
    /// reload adds. Else it runs the ids it was started with and no others.
    bool every_node = false;
    /// Runs (on an io thread) when a node this process retired has stopped.
    std::function<void(std::uint32_t id)> on_retired;
};

/// Applies `loaded` (validated, its secret resolved) to `process`: refused, with nothing
/// changed, when the process could not run it; else every node switches to the new tables,
/// the process's nodes that `loaded` no longer holds drain and stop, and (with
/// `rules.every_node`) the nodes it adds start here.
ReloadReport apply_reload(Process& process, dict::Config loaded, const ReloadRules& rules);

}  // namespace dinx::cluster
