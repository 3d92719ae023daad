#include "cluster/runtime/config_checks.hpp"

#include "dict/config_loader.hpp"

#include <algorithm>

namespace dinx::cluster {

// Every msgID routed to a group this process serves needs a handler, or its requests would
// only ever get no_handler errors: refuse to run instead.
std::string missing_handler(const dict::Config& config, std::span<const std::uint32_t> ids,
                            const HandlerTable& handlers) {
    for (const auto& route : config.routes) {
        bool served = std::ranges::any_of(ids, [&](std::uint32_t id) {
            const auto* node = config.find_node(id);
            return node && node->group == route.group;
        });
        if (served && !handlers.handles(route.msg_id))
            return config.routes_file + ":" + std::to_string(route.line) + ": msg_id " +
                   std::to_string(route.msg_id) + " (" + route.name + ") is routed to group '" +
                   route.group + "', but this program registers no handler for it";
    }
    return {};
}

std::string why_not_runnable(const dict::Config& config, std::span<const std::uint32_t> ids,
                             const HandlerTable& handlers) {
    if (auto problem = dict::check_dialable_ports(config, ids); !problem.empty()) return problem;
    return missing_handler(config, ids, handlers);
}

}  // namespace dinx::cluster
