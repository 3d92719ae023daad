#pragma once
// The server side of RFC 6455 as a wire layer: an HTTP upgrade, then binary messages whose
// payload is the connection's frame stream. Client frames are unmasked straight from the read
// into the frame stream, fragment by fragment, so a connection keeps no payload buffer; only a
// control frame split across reads (at most 125 bytes) is kept until its end. The frames are
// read by WebSocketFrameReader, which the client layer shares; the replies are written here.

#include "node/websocket_frame_reader.hpp"
#include "node/wire_layer.hpp"

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace dinx::node {

struct HandshakeAnswer;

/// A page served to a plain GET (a browser client's HTML or script).
struct StaticPage {
    std::string content_type;  ///< Content-Type of the answer ("text/html; charset=utf-8")
    std::string body;          ///< the page itself
};

/// Pages by exact URL path ("/", "/chat.html"); a query string is ignored when matching.
using StaticPages = std::map<std::string, StaticPage, std::less<>>;

/// What a WebSocket listener accepts. Shared, read-only, by every connection of the listener.
struct WebSocketOptions {
    /// The path the upgrade is accepted on; other paths get 404.
    std::string path = "/";
    /// Origins accepted, compared exactly; empty accepts any Origin or none. When not empty, a
    /// request without Origin (a non-browser client) is refused with 403 too.
    std::vector<std::string> allowed_origins;
    /// Subprotocol echoed when the client offers it; empty echoes none.
    std::string subprotocol;
    /// Largest data message, summed over its fragments; a larger one closes with 1009.
    std::uint32_t max_message_bytes = 1024 * 1024;
    /// Largest request head; a longer one gets 431.
    std::size_t max_handshake_bytes = 8192;
    /// Pages answered to a plain GET (or HEAD) of their path, then the connection ends.
    std::shared_ptr<const StaticPages> pages;
};

/// One connection's WebSocket state: the request head while handshaking, then the header of
/// the frame being read. Small on purpose: it lives as long as the connection.
class WebSocketLayer final : public WireLayer {
public:
    /// A layer waiting for the request head; `options` must not be null.
    explicit WebSocketLayer(std::shared_ptr<const WebSocketOptions> options);
    ~WebSocketLayer() override;

    /// Handshake bytes, then client frames: data to `up`, pongs and closes to `reply`.
    LayerVerdict take_in(Bytes wire, ByteBuffer& up, ByteBuffer& reply) override;
    /// One binary message holding `up`; kept until the handshake is done; none after a close.
    void wrap_out(Bytes up, ByteBuffer& wire) override;
    /// A close frame 1001 (going away), once, when the handshake is done.
    void say_goodbye(ByteBuffer& wire) override;
    /// An empty ping, when the handshake is done and no close was sent.
    void probe(ByteBuffer& wire) override;
    /// True once the 101 answer was made.
    bool handshake_done() const override {
        return phase_ == Phase::open || phase_ == Phase::closed;
    }
    /// The partial request head and early output while handshaking, a split control frame.
    std::size_t held_bytes() const override;
    /// "websocket".
    std::string_view name() const override { return "websocket"; }

private:
    // answered: an HTTP answer ended it; closed: a close frame was sent or received.
    enum class Phase : std::uint8_t { handshaking, answered, open, closed };
    struct Handshake;  // what only the handshake needs, freed after it

    LayerVerdict take_head(Bytes& wire, ByteBuffer& reply);
    LayerVerdict send_answer(HandshakeAnswer answer, ByteBuffer& reply);
    LayerVerdict take_frames(Bytes wire, ByteBuffer& up, ByteBuffer& reply);
    LayerVerdict take_close(std::uint16_t code, ByteBuffer& reply);
    /// Sends a close for a rule the peer broke and ends.
    LayerVerdict fail(ByteBuffer& reply, std::uint16_t code, std::string_view text,
                      std::string_view violation);

    std::shared_ptr<const WebSocketOptions> options_;
    std::unique_ptr<Handshake> handshake_;
    WebSocketFrameReader reader_;  // client frames, once the handshake is done
    Phase phase_ = Phase::handshaking;
};

/// Makes WebSocket layers sharing one set of options.
class WebSocketLayerFactory final : public WireLayerFactory {
public:
    /// A factory for layers checking requests against `options`.
    explicit WebSocketLayerFactory(WebSocketOptions options);
    /// A fresh layer waiting for its request head.
    std::unique_ptr<WireLayer> make() const override;
    /// The options every layer shares.
    const WebSocketOptions& options() const { return *options_; }

private:
    std::shared_ptr<const WebSocketOptions> options_;
};

/// Appends one unmasked server frame (FIN set) with the smallest length encoding.
void append_websocket_frame(ByteBuffer& wire, std::uint8_t opcode, Bytes payload);
/// Appends a close frame with `code` and a reason text cut at 123 bytes.
void append_websocket_close(ByteBuffer& wire, std::uint16_t code, std::string_view text);

}  // namespace dinx::node
