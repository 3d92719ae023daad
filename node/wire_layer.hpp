#pragma once
// A wire layer sits between a connection's socket and its frames: WebSocket framing, TLS, or
// TLS under WebSocket. Bytes read from the socket go in at the bottom and come out on top as the
// frame stream (zinx TLV or the listener's framing); frames queued to send are wrapped on the way
// down. A layer does no I/O: it only turns bytes into bytes, so it is tested and fuzzed without
// sockets, and the transport keeps its one read loop and its one gathered write per wake-up.
//
// A plain TCP connection has no layer and pays nothing for this.

#include "node/bytes.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace dinx::node {

/// What a layer asks of its transport after taking bytes in.
struct LayerVerdict {
    /// False when the connection must end: `reply` holds the last bytes to send (a WebSocket
    /// close frame, an HTTP error answer, a TLS alert); the transport sends them and closes.
    bool keep_open = true;
    /// Why it ends, for logs and on_closed() (empty while open).
    std::string reason;
    /// When the peer broke a rule, the rule (a literal), for summaries; else empty.
    std::string_view violation;

    /// The connection goes on.
    static LayerVerdict go_on() { return {}; }
    /// The connection ends after `reply` was sent; `violation` when the peer broke a rule.
    static LayerVerdict end(std::string reason, std::string_view violation = {}) {
        return {false, std::move(reason), violation};
    }
};

/// Turns wire bytes into frame-stream bytes and back. Used on its transport's thread only.
class WireLayer {
public:
    virtual ~WireLayer() = default;

    /// Appends what the connecting side sends first (a TLS ClientHello, a WebSocket upgrade
    /// request); nothing for a server-side layer.
    virtual void open(ByteBuffer& wire) { (void)wire; }
    /// Takes bytes read from below. Appends what they carry for the layer above to `up` (frame
    /// bytes, for the top layer) and what must be sent back down at once (a handshake answer, a
    /// pong, TLS records) to `reply`, already wrapped for the wire.
    virtual LayerVerdict take_in(Bytes wire, ByteBuffer& up, ByteBuffer& reply) = 0;
    /// Wraps bytes from above (whole frames, for the top layer) for the wire, appending to
    /// `wire`. Before the handshake is done, the layer keeps them and sends them after it.
    virtual void wrap_out(Bytes up, ByteBuffer& wire) = 0;
    /// Appends what politely ends the connection (a WebSocket close frame, a TLS close_notify).
    virtual void say_goodbye(ByteBuffer& wire) = 0;
    /// Appends a keep-alive probe the peer must answer (a WebSocket ping); nothing if the layer
    /// has none. Called when the peer has been quiet a while, so a browser that only answers
    /// pings stays counted as alive.
    virtual void probe(ByteBuffer& wire) { (void)wire; }
    /// True once the layer's handshake is done and frame bytes can flow both ways.
    virtual bool handshake_done() const = 0;
    /// Memory the layer holds beyond its own object, for the process's memory budget.
    virtual std::size_t held_bytes() const = 0;
    /// What the layer is, for logs ("websocket", "tls", "tls+websocket").
    virtual std::string_view name() const = 0;
};

/// Creates a fresh layer for each accepted connection of a listener.
class WireLayerFactory {
public:
    virtual ~WireLayerFactory() = default;
    /// A layer for a new connection.
    virtual std::unique_ptr<WireLayer> make() const = 0;
};

/// Layers that stack: bytes from the wire pass through `lower` (TLS), then `upper` (WebSocket);
/// bytes to send, the other way.
std::shared_ptr<const WireLayerFactory> stack_layers(std::shared_ptr<const WireLayerFactory> lower,
                                                     std::shared_ptr<const WireLayerFactory> upper);
/// One connection's layers stacked the same way: a client's TLS under its WebSocket.
std::unique_ptr<WireLayer> stack_layer(std::unique_ptr<WireLayer> lower,
                                       std::unique_ptr<WireLayer> upper);

}  // namespace dinx::node
