#pragma once
// The client side of RFC 6455 as a wire layer, for the demo client, the tests and the load
// tools: an upgrade request, a check of the server's answer, then masked binary messages out
// and the server's unmasked frames in. Server frames go up as they arrive, split anywhere.

#include "node/websocket_frame_reader.hpp"
#include "node/wire_layer.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace dinx::node {

class TlsContext;

/// What a client's upgrade request says.
struct WebSocketClientOptions {
    /// The Host header ("game.example:10080").
    std::string host;
    /// The path the upgrade asks for.
    std::string path = "/";
    /// The Origin header; "" sends none (as non-browser clients do).
    std::string origin;
    /// The subprotocol offered; "" offers none.
    std::string subprotocol;
};

/// One client connection's WebSocket: the upgrade request and the answer's head while
/// handshaking, then the header of the server frame being read.
class WebSocketClientLayer final : public WireLayer {
public:
    /// A layer that has sent nothing yet; open() makes its request.
    explicit WebSocketClientLayer(WebSocketClientOptions options);
    ~WebSocketClientLayer() override;

    /// Appends the upgrade request (GET with a fresh random key), once.
    void open(ByteBuffer& wire) override;
    /// The answer's head (at most 8 KiB), then server frames: binary payload to `up`, pongs and
    /// closes to `reply`. Anything but a 101 with the right accept key ends it, naming why.
    LayerVerdict take_in(Bytes wire, ByteBuffer& up, ByteBuffer& reply) override;
    /// One masked binary message holding `up`; kept until the 101 arrived; none after a close.
    void wrap_out(Bytes up, ByteBuffer& wire) override;
    /// A masked close 1000, once, while open.
    void say_goodbye(ByteBuffer& wire) override;
    /// A masked empty ping, while open.
    void probe(ByteBuffer& wire) override;
    /// True once the 101 was accepted (and still after a close).
    bool handshake_done() const override {
        return phase_ == Phase::open || phase_ == Phase::closed;
    }
    /// The request and answer kept while handshaking, a split control frame.
    std::size_t held_bytes() const override;
    /// "websocket".
    std::string_view name() const override { return "websocket"; }

private:
    // refused: the answer was not an upgrade; closed: a close frame was sent or received.
    enum class Phase : std::uint8_t { handshaking, refused, open, closed };
    struct Handshake;  // what only the handshake needs, freed after it

    LayerVerdict take_answer(Bytes& wire, ByteBuffer& reply);
    LayerVerdict refuse(std::string reason);
    LayerVerdict take_frames(Bytes wire, ByteBuffer& up, ByteBuffer& reply);
    LayerVerdict take_close(std::uint16_t code, ByteBuffer& reply);
    LayerVerdict fail(ByteBuffer& reply, std::uint16_t code, std::string_view text);
    /// Appends one masked frame (FIN set) with a fresh mask key.
    void append_masked(ByteBuffer& wire, std::uint8_t opcode, Bytes payload);
    std::uint64_t next_random();

    WebSocketClientOptions options_;
    std::unique_ptr<Handshake> handshake_;
    WebSocketFrameReader reader_;  // server frames, once the 101 arrived
    std::uint64_t random_state_;   // xorshift64*, for keys and mask keys
    Phase phase_ = Phase::handshaking;
};

/// The layer a client wraps its frames in: TLS when `tls` (a client context) is not null,
/// WebSocket when `websocket` is set, TLS under WebSocket when both; null when neither.
std::unique_ptr<WireLayer> make_client_layer(
    std::shared_ptr<TlsContext> tls, const std::optional<WebSocketClientOptions>& websocket);

}  // namespace dinx::node
