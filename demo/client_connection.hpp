#pragma once
// How `dinx-demo client` reaches a gate: plain TCP, WebSocket, TLS, or WebSocket over TLS (wss),
// with zinx TLV or LTV frames. Every mode of the client runs over any of them.

#include "node/blocking_client.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace CLI {
class App;
}

namespace dinx::demo {

/// Where the gate is and what the connection to it is wrapped in.
struct ConnectionOptions {
    std::string host = "127.0.0.1";      ///< the gate's address (also the TLS name checked)
    std::uint16_t port = 10000;          ///< the gate's client port (TCP or WebSocket)
    std::optional<std::string> ws_path;  ///< set: a WebSocket upgrade on this path
    std::string origin;                  ///< the upgrade's Origin header; "" sends none
    bool tls = false;                    ///< TLS to the gate
    std::string ca_file;                 ///< PEM file the gate's certificate must lead to
    std::string framing = "tlv";         ///< "tlv" (big-endian) or "ltv" (zinx little-endian)

    /// True when anything but plain TCP with TLV frames was asked for.
    bool changed() const { return ws_path || tls || framing != "tlv"; }
};

/// Adds --host, --port, --ws, --origin, --tls, --ca and --framing, writing to `options`.
void add_connection_options(CLI::App& cli, ConnectionOptions& options);

/// Connects and runs the WebSocket and TLS handshakes asked for, each within `timeout`.
/// Throws std::system_error naming what failed (a refused upgrade names the gate's status
/// line), or node::TlsError for a CA file that cannot be used.
std::unique_ptr<node::BlockingClient> connect_to_gate(const ConnectionOptions& options,
                                                      std::chrono::milliseconds timeout);

}  // namespace dinx::demo
