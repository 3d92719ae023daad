#pragma once
// `dinx-demo client`: talks to a gate like a player would, interactively or from a script.

namespace dinx::demo {

/// Runs the demo client with its own command line (argv[0] is "client"). Returns the exit code.
int run_client(int argc, char** argv);

}  // namespace dinx::demo
