#pragma once
// `dinx-demo client --script --port2 P`: two players on two gates meet in a room, whisper and
// speak to it, then a second login of one of them replaces it; every step awaits the frames the
// demo promises, within a timeout.

#include <cstdint>
#include <string>

namespace dinx::demo {

/// Where the two gates are, who talks, and how long a step may take.
struct ConversationOptions {
    std::string host = "127.0.0.1";            ///< gate 1, where player A and later C log in
    std::uint16_t port = 10000;                ///< gate 1's client port
    std::string host2 = "127.0.0.1";           ///< gate 2, where player B logs in
    std::uint16_t port2 = 10001;               ///< gate 2's client port
    std::string name = "alice";                ///< player A's uid
    std::string name2 = "bob";                 ///< player B's uid (C logs in with it too)
    int timeout_ms = 5000;                     ///< the longest one step may take
    std::uint32_t error_msg_id = 0xFFFF'FFFF;  ///< msgID of the gates' error frames
    std::uint32_t kick_msg_id = 0xFFFF'FFFE;   ///< msgID of the gates' kick frames
};

/// Runs the two-gate conversation and prints it (`<player> -> ...`, `<player> <- ...`), then
/// `N/M steps as expected`. Returns 0 when every step saw what it expects, else 1 after a line
/// naming the step that failed.
int run_conversation(const ConversationOptions& options);

}  // namespace dinx::demo
