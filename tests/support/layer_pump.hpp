#pragma once
// Two wire layers talking in memory, without sockets: what one end replies is the other end's
// input, delivered whole or cut into chunks of any size. For the layer tests (TLS on both
// sides, the WebSocket client against the server).

#include "node/wire_layer.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace dinx::test {

/// One end of a connection: its layer, the wire bytes on their way to it, what it received.
struct LayerEnd {
    std::unique_ptr<node::WireLayer> layer;   ///< this end's layer
    ByteBuffer inbox;                         ///< wire bytes sent to this end, not taken in yet
    std::string got;                          ///< what the layer passed up
    std::optional<node::LayerVerdict> ended;  ///< the verdict that ended this end, once one did
};

/// Feeds `to` what waits in its inbox, `chunk` bytes per take_in; its replies go to `other`.
/// False when there was nothing to feed (an ended end drops what it is sent).
bool deliver(LayerEnd& to, LayerEnd& other, std::size_t chunk);

/// A client layer and a server layer connected in memory.
struct LayerPair {
    LayerEnd client;  ///< the connecting end
    LayerEnd server;  ///< the accepting end

    /// Connects the two: what the client sends first (open()) waits in the server's inbox.
    LayerPair(std::unique_ptr<node::WireLayer> client_layer,
              std::unique_ptr<node::WireLayer> server_layer);
    /// Moves bytes both ways, `chunk` bytes per take_in, until nothing moves.
    void pump(std::size_t chunk = SIZE_MAX);
    /// Wraps `text` at `from` and queues the wire bytes for `to`.
    static void send(LayerEnd& from, LayerEnd& to, std::string_view text);
};

/// `size` letters in a 26-byte cycle, for payloads that must arrive intact and in order across
/// records and frames.
std::string pattern(std::size_t size);

}  // namespace dinx::test
