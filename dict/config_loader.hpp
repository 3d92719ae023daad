#pragma once
// Loads dinx.toml and route.toml with toml++ and validates them.

#include "dict/config.hpp"

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <stdexcept>
#include <string>

namespace dinx::dict {

/// Largest dinx.toml or route.toml load_config reads. A real one is a few KiB: anything bigger
/// is a wrong path (a log, a dump) and is refused before it can fill memory.
inline constexpr std::size_t max_config_file_bytes = 1 << 20;

/// Largest secret_file load_config reads. A secret is tens of bytes; 64 KiB leaves room for any
/// key format while a wrong path is still refused.
inline constexpr std::size_t max_secret_file_bytes = 64 << 10;

/// A configuration mistake: names the file, the line (0 when there is none) and the problem.
class ConfigError : public std::runtime_error {
public:
    /// what() reads "file:line: problem" (or "file: problem" when line is 0).
    ConfigError(std::string file, int line, std::string problem);
    /// The file the mistake is in.
    const std::string& file() const { return file_; }
    /// The 1-based line of the mistake, 0 when the whole file is at fault.
    int line() const { return line_; }
    /// The problem without file and line.
    const std::string& problem() const { return problem_; }

private:
    std::string file_;
    int line_;
    std::string problem_;
};

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
