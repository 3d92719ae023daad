#pragma once
// `PROGRAM ctl`: the operator's command line. It reads dinx.toml to find the nodes' admin
// endpoints and the cluster secret, asks the nodes, and prints their answers for a person, or as
// JSON for scripts (--json).

#include <string>

namespace dinx::cluster {

/// Runs `ctl` with its own arguments (argv[0] is "ctl"); returns the exit code: 0 when every
/// node asked answered and did what was asked, 1 when one could not be reached or refused, 2 for
/// a mistake in the command line or the config.
int run_ctl(int argc, char** argv, const std::string& program);

}  // namespace dinx::cluster
