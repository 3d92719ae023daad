#pragma once
// The one handler of hello: a header of its own so that main.cpp and the unit test share it.

#include "cluster/dinx.hpp"

#include <cstdint>
#include <string>

namespace hello {

/// msgID of a greeting: the request carries a name, the reply is "hello, <name>".
inline constexpr std::uint32_t greet_msg_id = 1;

/// Answers a greeting. Runs on an io thread of the gate: it must not block.
inline void greet(dinx::Context& ctx, dinx::Bytes name) {
    ctx.reply(greet_msg_id, "hello, " + std::string(dinx::as_text(name)));
}

}  // namespace hello
