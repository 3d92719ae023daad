#pragma once
// The two modes of dinx-load: closed-loop load, and idle connections held open.

#include <cstdint>
#include <string>

namespace dinx::bench {

/// Command-line settings of dinx-load.
struct LoadOptions {
    std::string host = "127.0.0.1";
    std::uint16_t port = 0;
    std::uint32_t conns = 64;  ///< client connections
    std::uint32_t depth = 1;   ///< requests in flight per connection
    std::uint32_t size = 64;   ///< payload bytes
    std::uint32_t msg_id = 6;  ///< msgID of the echo requests
    std::uint32_t error_msg_id = 0xFFFF'FFFF;
    double warmup_s = 1.0;           ///< load before measuring
    double duration_s = 5.0;         ///< measured load
    double drain_s = 3.0;            ///< wait for outstanding replies at the end
    std::uint32_t idle = 0;          ///< > 0: hold this many idle connections instead
    std::uint32_t sources = 8;       ///< source addresses 127.0.0.1..N for idle connections
    std::string login;               ///< non-empty: connection i first logs in as login + i
    std::uint32_t login_msg_id = 1;  ///< msgID of the login requests
    std::string ws_path;             ///< non-empty: WebSocket, upgrading on this path
    bool tls = false;                ///< TLS (under WebSocket with ws_path), not verified

    /// What the connections speak: "tcp", "websocket", "tls" or "tls+websocket".
    std::string transport() const {
        if (tls) return ws_path.empty() ? "tls" : "tls+websocket";
        return ws_path.empty() ? "tcp" : "websocket";
    }
};

/// Runs the closed-loop load and prints the report. With a WebSocket or TLS transport every
/// connection finishes its handshake before the load starts. Exit code 0 only when replies came
/// back with no error frame, none lost and none out of order.
int run_load(const LoadOptions& options);

/// Opens options.idle connections, echoes once on each, prints "IDLE connected=N", holds them
/// until SIGINT/SIGTERM, prints "IDLE held=N dropped=K". Exit code 0 when none dropped.
int run_idle(const LoadOptions& options);

}  // namespace dinx::bench
