#pragma once
// What a gate tells the groups that listen to session events (route.toml `[events]`).

#include <cstdint>
#include <string>
#include <string_view>

namespace dinx::cluster {

/// What happened to a client's session.
enum class SessionEventKind : std::uint8_t {
    connected = 1,     ///< a client connected to a gate
    bound = 2,         ///< the session bound a uid (a login), or changed it
    disconnected = 3,  ///< the connection is gone; `reason` says why
};

/// Why a session ended.
enum class DisconnectReason : std::uint8_t {
    none = 0,      ///< not a disconnect
    closed = 1,    ///< the client closed, or broke a rule of the gate
    idle = 2,      ///< it was silent past client_idle_timeout_ms (or too slow to send a frame)
    kicked = 3,    ///< a node kicked its uid
    replaced = 4,  ///< a newer login of the same uid took its place
    stopping = 5,  ///< its gate is stopping
};

/// One session event. `uid` is the bound uid (for `bound`: the new one; empty when unbound).
struct SessionEvent {
    SessionEventKind kind = SessionEventKind::connected;  ///< what happened
    DisconnectReason reason = DisconnectReason::none;     ///< why, for `disconnected`
    std::string uid;                                      ///< the session's uid then
};

/// "connected", "bound", "disconnected".
std::string_view to_string(SessionEventKind kind);
/// "closed", "idle", "kicked", "replaced", "stopping" ("" for none).
std::string_view to_string(DisconnectReason reason);

}  // namespace dinx::cluster
