#pragma once
// Loads dinx.toml and route.toml with toml++ and validates them.

#include "dict/config.hpp"

#include <filesystem>
#include <stdexcept>
#include <string>

namespace dinx::dict {

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

/// Checks the cross-row rules (unique ids, names and host:ports, routes to known groups, a
/// msgID in one group only, at least one frontend, ...). Throws ConfigError.
void validate(const Config& config);

}  // namespace dinx::dict
