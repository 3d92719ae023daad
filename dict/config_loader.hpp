#pragma once
// Loads dinx.toml and route.toml with toml++ and validates them.

#include "dict/config.hpp"
#include "dict/config_error.hpp"

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>

namespace dinx::dict {

/// Reads DIR/dinx.toml and DIR/route.toml, validates them, throws ConfigError on the first mistake.
Config load_config(const std::filesystem::path& dir);

/// Parses the two files' text (file names are used in messages only), then validates.
Config parse_config(std::string_view nodes_toml, std::string_view routes_toml,
                    std::string nodes_file = "dinx.toml", std::string routes_file = "route.toml");

/// Port 0 asks the OS for any free port, which only the process that listens then knows. That
/// suits nodes dialed from the same process, never one a player or another process must dial:
/// refuses a frontend's `port` of 0 always, and any `port` or `link_port` of 0 unless
/// `ids_run_here` holds every node of the file. Returns "" when fine, else "file:line: problem"
/// pointing at the port's key.
std::string check_dialable_ports(const Config& config, std::span<const std::uint32_t> ids_run_here);

/// Checks the cross-row rules (unique ids, names and host:ports, routes to known groups, a
/// msgID in one group only, at least one frontend, ...). Throws ConfigError.
void validate(const Config& config);

}  // namespace dinx::dict
