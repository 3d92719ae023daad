#pragma once
// The demo app's handlers: login, logout, send, broadcast, relay. Each is registered on every
// node, so moving a msgID to another group in route.toml needs no code change.

#include "cluster/dinx.hpp"

#include <cstdint>
#include <functional>

namespace dinx::demo {

/// The demo's message ids (route.toml decides which group runs each).
enum MsgId : std::uint32_t { login = 1, logout = 2, send = 3, broadcast = 4, relay = 5, echo = 6 };

/// Calls `handle(msg_id, handler)` for each demo handler.
void register_demo_handlers(const std::function<void(std::uint32_t, Handler)>& handle);

}  // namespace dinx::demo
