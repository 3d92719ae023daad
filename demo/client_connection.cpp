#include "demo/client_connection.hpp"

#include "node/tls_layer.hpp"
#include "node/websocket_client_layer.hpp"

#include <CLI/CLI.hpp>

namespace dinx::demo {

void add_connection_options(CLI::App& cli, ConnectionOptions& options) {
    cli.add_option("--host", options.host, "gate address")->capture_default_str();
    cli.add_option("--port", options.port, "gate client port")->capture_default_str();
    auto* ws = cli.add_option("--ws", options.ws_path,
                              "speak WebSocket, upgrading on this path (the demo gate: --port "
                              "10080 --ws /ws); Host is --host:--port")
                   ->type_name("PATH");
    cli.add_option("--origin", options.origin, "with --ws: the Origin header to send")
        ->type_name("ORIGIN")
        ->needs(ws);
    auto* tls = cli.add_flag("--tls", options.tls,
                             "TLS to the gate (with --ws: wss). Without --ca the gate's "
                             "certificate is NOT verified: for trying things out only");
    cli.add_option("--ca", options.ca_file,
                   "with --tls: verify the gate's certificate against this PEM file, for the "
                   "name --host")
        ->type_name("FILE")
        ->needs(tls);
    cli.add_option("--framing", options.framing,
                   "frame layout of the gate's listener: tlv (zinx TLV, big-endian) or ltv "
                   "(zinx's little-endian LTV)")
        ->capture_default_str()
        ->check(CLI::IsMember({"tlv", "ltv"}));
}

std::unique_ptr<node::BlockingClient> connect_to_gate(const ConnectionOptions& options,
                                                      std::chrono::milliseconds timeout) {
    std::shared_ptr<node::TlsContext> tls;
    if (options.tls) tls = node::TlsContext::client(options.ca_file, options.host);
    std::optional<node::WebSocketClientOptions> websocket;
    if (options.ws_path) {
        websocket.emplace();
        bool ipv6 = options.host.find(':') != std::string::npos;  // RFC 3986: in brackets
        websocket->host =
            (ipv6 ? "[" + options.host + "]" : options.host) + ":" + std::to_string(options.port);
        websocket->path = *options.ws_path;
        websocket->origin = options.origin;
    }
    const auto* format = options.framing == "ltv" ? &node::ltv_format() : &node::tlv_format();
    return std::make_unique<node::BlockingClient>(options.host, options.port, timeout, 16u << 20,
                                                  node::make_client_layer(tls, websocket), format);
}

}  // namespace dinx::demo
