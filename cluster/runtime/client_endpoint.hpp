#pragma once
// How the connections of one client listener are set up: the frame layout (zinx TLV, zinx LTV
// or a game's own) and the wire layers (WebSocket, TLS, both) between the socket and the frames.
// Built once per listener when the node is made, then shared, read-only, by every shard.

#include "cluster/api/handler.hpp"
#include "dict/config.hpp"
#include "node/frame_codec.hpp"
#include "node/wire_layer.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace dinx::cluster {

/// One client listener of a frontend, ready to make transports.
struct ClientEndpoint {
    std::uint16_t port = 0;             ///< as configured (0 = any free port)
    std::string kind;                   ///< for logs: "tcp", "websocket", "tls+websocket"...
    const node::FrameFormat* format{};  ///< the frame layout; never null
    std::shared_ptr<const node::FrameFormat> owned_format;  ///< keeps a game's format alive
    std::shared_ptr<const node::WireLayerFactory> layers;   ///< null: frames straight on TCP
};

/// The endpoints of frontend `node`: first its `port` (plain TCP, zinx TLV), then its
/// `listeners` in file order. Throws dict::ConfigError naming dinx.toml's line for a framing no
/// one registered, a certificate or key OpenSSL refuses, or a web root that cannot be read.
std::vector<ClientEndpoint> make_client_endpoints(const dict::NodeInfo& node,
                                                  const dict::Config& config,
                                                  const HandlerTable& handlers);

/// The wire layers of a node's links: TLS when [cluster] names link_tls_cert, link_tls_key and
/// link_tls_ca, else none.
struct LinkLayers {
    std::shared_ptr<const node::WireLayerFactory> accepted;  ///< server side, our certificate
    std::shared_ptr<const node::WireLayerFactory> dialed;    ///< client side, checks the CA
};

/// The link layers `config` asks for. Throws dict::ConfigError at the line of the link_tls keys
/// when OpenSSL refuses a file.
LinkLayers make_link_layers(const dict::Config& config);

}  // namespace dinx::cluster
