#pragma once
// The demo app's handlers: login, logout, send, broadcast, relay. Each is registered on every
// node, so moving a msgID to another group in route.toml needs no code change. Its interceptor
// keeps what speaks as a player (send, broadcast, relay, rooms, whispers) for logged-in ones.

#include "cluster/dinx.hpp"

#include <cstdint>
#include <functional>

namespace dinx::demo {

/// The demo's message ids (route.toml decides which group runs each).
enum MsgId : std::uint32_t {
    login = 1,
    logout = 2,
    send = 3,
    broadcast = 4,
    relay = 5,
    echo = 6,
    join = 7,        ///< `<room>`: join it
    leave = 8,       ///< `<room>`: leave it
    say = 9,         ///< `<room> <text>`: to every other member
    whisper = 10,    ///< `<uid> <text>`: to one player, on any gate
    members = 11,    ///< `<room>`: who is in it
    set_value = 12,  ///< `<key> <value>`: a session value (set on a backend)
    get_value = 13,  ///< `<key>`: read a session value (on the gate)
};

/// Calls `handle(msg_id, handler)` for each demo handler (the player handlers included).
void register_demo_handlers(const std::function<void(std::uint32_t, Handler)>& handle);

/// Calls `handle(msg_id, handler)` for the player handlers: rooms, whisper, session values.
void register_player_handlers(const std::function<void(std::uint32_t, Handler)>& handle);

/// True when only a logged-in client may send msgID `msg_id`: 3, 4, 5, 7 to 11, 15 and 17.
bool needs_login(std::uint32_t msg_id);

/// Calls `intercept(interceptor)` for each demo interceptor, in the order they run: a frame
/// that needs_login() from a client that is not logged in gets `unauthenticated`.
void register_demo_interceptors(const std::function<void(Interceptor)>& intercept);

}  // namespace dinx::demo
