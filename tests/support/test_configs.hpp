#pragma once
// What the config tests share: a small valid cluster (one gate, one im node, the gate's route),
// and the way a test gets the error a config must raise. Include from doctest test files only.
//
// Inline TOML starts with a newline, so the first TOML line is line 2.

#include "dict/config.hpp"
#include "dict/config_loader.hpp"

#include <doctest/doctest.h>

#include <string>
#include <string_view>

namespace dinx::test {

/// A valid route.toml for clusters that have a `gate` group.
inline constexpr std::string_view gate_routes = R"(
[[gate]]
msg_id = 1
name = "login"
)";

/// A valid dinx.toml with one gate (lines 2-8) and one im node (lines 10-15).
inline constexpr std::string_view one_gate = R"(
[[gate]]
id = 1
name = "gate-1"
type = "frontend"
host = "127.0.0.1"
port = 10000
link_port = 10100

[[im]]
id = 2
name = "im-1"
type = "backend"
host = "127.0.0.1"
port = 20000
)";

/// Parses the two texts and returns the error they must raise; fails the test when they pass.
inline dict::ConfigError expect_error(std::string_view nodes,
                                      std::string_view routes = gate_routes) {
    try {
        dict::parse_config(nodes, routes);
    } catch (const dict::ConfigError& err) {
        return err;
    }
    FAIL("the config was accepted");
    return dict::ConfigError("", 0, "");
}

/// True when the error's problem text holds `part`.
inline bool has(const dict::ConfigError& err, std::string_view part) {
    return err.problem().find(part) != std::string::npos;
}

}  // namespace dinx::test
