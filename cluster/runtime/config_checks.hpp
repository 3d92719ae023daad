#pragma once
// What a config must hold for this program to run some of its nodes: checked at start and again
// by every live reload, so a reload can never run what a start would refuse.

#include "cluster/api/handler.hpp"
#include "dict/config.hpp"

#include <cstdint>
#include <span>
#include <string>

namespace dinx::cluster {

/// Why this program cannot run nodes `ids` of `config` ("file:line: problem"): a msgID routed
/// to a group run here that no handler of `handlers` serves, or a port 0 that another process
/// must dial. "" when it can.
std::string why_not_runnable(const dict::Config& config, std::span<const std::uint32_t> ids,
                             const HandlerTable& handlers);
/// The first msgID of `config` routed to a group that nodes `ids` are in and that no handler of
/// `handlers` serves, as "file:line: problem"; "" when none.
std::string missing_handler(const dict::Config& config, std::span<const std::uint32_t> ids,
                            const HandlerTable& handlers);

}  // namespace dinx::cluster
