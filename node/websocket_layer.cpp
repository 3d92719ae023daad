#include "node/websocket_layer.hpp"

#include "node/websocket_handshake.hpp"
#include "node/websocket_wire.hpp"

#include <algorithm>

namespace dinx::node {

// Freed once the handshake is done: an open connection keeps none of it.
struct WebSocketLayer::Handshake {
    std::string head;      // the request head so far, at most max_handshake_bytes
    ByteBuffer early_out;  // frame bytes wrapped before the 101 answer, sent right after it
};

namespace {

using namespace websocket_wire;

// A close payload is the code (2 bytes) and a text, within a control frame's 125 bytes.
constexpr std::size_t max_close_text = max_control_payload - 2;

}  // namespace

WebSocketLayer::WebSocketLayer(std::shared_ptr<const WebSocketOptions> options)
    : options_(std::move(options)), reader_(FrameSource::client) {}

WebSocketLayer::~WebSocketLayer() = default;

LayerVerdict WebSocketLayer::take_in(Bytes wire, ByteBuffer& up, ByteBuffer& reply) {
    // Bytes after the end are ignored: the transport is closing.
    if (phase_ == Phase::answered) return LayerVerdict::end("HTTP answer sent");
    if (phase_ == Phase::closed) return LayerVerdict::end("websocket closed");
    if (phase_ == Phase::handshaking) {
        auto verdict = take_head(wire, reply);
        if (!verdict.keep_open || phase_ == Phase::handshaking) return verdict;
    }
    return take_frames(wire, up, reply);
}

// --- handshake ---------------------------------------------------------------------------------

LayerVerdict WebSocketLayer::take_head(Bytes& wire, ByteBuffer& reply) {
    if (!handshake_) handshake_ = std::make_unique<Handshake>();
    auto& head = handshake_->head;
    auto limit = options_->max_handshake_bytes;
    auto old_size = head.size();
    // Never more than the limit is kept, whatever one read brings.
    auto taken = std::min(wire.size(), limit > old_size ? limit - old_size : 0);
    head.append(as_text(wire.first(taken)));
    // A line end split across reads starts at most 2 bytes before the new ones.
    auto end = find_head_end(head, old_size >= 2 ? old_size - 2 : 0);
    auto head_size = end != 0 ? end : head.size();
    if (head_size > old_size &&
        has_forbidden_byte(std::string_view{head}.substr(old_size).substr(0, head_size - old_size)))
        return send_answer(answer_malformed_head(), reply);
    if (end == 0) {
        if (head.size() >= limit) return send_answer(answer_oversized_head(limit), reply);
        return LayerVerdict::go_on();
    }
    wire = wire.subspan(end - old_size);  // what follows the head is frames
    return send_answer(answer_handshake(std::string_view{head}.substr(0, end), *options_), reply);
}

LayerVerdict WebSocketLayer::send_answer(HandshakeAnswer answer, ByteBuffer& reply) {
    append(reply, as_bytes(answer.response));
    auto early_out = std::move(handshake_->early_out);
    handshake_.reset();
    if (!answer.upgraded) {
        phase_ = Phase::answered;
        return LayerVerdict::end(std::move(answer.reason), answer.violation);
    }
    phase_ = Phase::open;
    if (!early_out.empty()) append_websocket_frame(reply, op_binary, early_out);
    return LayerVerdict::go_on();
}

// --- frames ------------------------------------------------------------------------------------

LayerVerdict WebSocketLayer::take_frames(Bytes wire, ByteBuffer& up, ByteBuffer& reply) {
    using Kind = WebSocketFrameEvent::Kind;
    while (true) {
        auto event = reader_.read(wire, up, options_->max_message_bytes);
        switch (event.kind) {
            case Kind::need_more:
                return LayerVerdict::go_on();
            case Kind::ping:
                append_websocket_frame(reply, op_pong, event.payload);
                break;
            case Kind::pong:
                break;  // a pong needs nothing: the read itself was the sign of life
            case Kind::close:
                return take_close(event.code, reply);
            case Kind::violation:
                return fail(reply, event.code, event.text, event.violation);
        }
    }
}

LayerVerdict WebSocketLayer::take_close(std::uint16_t code, ByteBuffer& reply) {
    // The answer carries the peer's code (RFC 6455 section 5.5.1), 1000 for none.
    append_websocket_close(reply, static_cast<std::uint16_t>(code == 1005 ? 1000 : code), {});
    phase_ = Phase::closed;
    return LayerVerdict::end("peer closed (websocket " + std::to_string(code) + ")");
}

LayerVerdict WebSocketLayer::fail(ByteBuffer& reply, std::uint16_t code, std::string_view text,
                                  std::string_view violation) {
    append_websocket_close(reply, code, text);
    phase_ = Phase::closed;
    return LayerVerdict::end(
        "websocket closed with " + std::to_string(code) + ": " + std::string{text}, violation);
}

// --- sending -----------------------------------------------------------------------------------

void WebSocketLayer::wrap_out(Bytes up, ByteBuffer& wire) {
    if (up.empty()) return;
    if (phase_ == Phase::handshaking) {
        if (!handshake_) handshake_ = std::make_unique<Handshake>();
        append(handshake_->early_out, up);
        return;
    }
    if (phase_ == Phase::open) append_websocket_frame(wire, op_binary, up);
}

void WebSocketLayer::say_goodbye(ByteBuffer& wire) {
    if (phase_ != Phase::open) return;
    append_websocket_close(wire, 1001, "going away");
    phase_ = Phase::closed;
}

void WebSocketLayer::probe(ByteBuffer& wire) {
    if (phase_ == Phase::open) append_websocket_frame(wire, op_ping, {});
}

std::size_t WebSocketLayer::held_bytes() const {
    std::size_t held = reader_.held_bytes();
    if (handshake_)
        held += sizeof(Handshake) + handshake_->head.capacity() + handshake_->early_out.capacity();
    return held;
}

WebSocketLayerFactory::WebSocketLayerFactory(WebSocketOptions options)
    : options_(std::make_shared<const WebSocketOptions>(std::move(options))) {}

std::unique_ptr<WireLayer> WebSocketLayerFactory::make() const {
    return std::make_unique<WebSocketLayer>(options_);
}

void append_websocket_frame(ByteBuffer& wire, std::uint8_t opcode, Bytes payload) {
    auto size = payload.size();
    wire.push_back(static_cast<std::byte>(fin_bit | opcode));
    std::size_t extended = size < 126 ? 0 : size <= 0xffff ? 2 : 8;
    wire.push_back(static_cast<std::byte>(extended == 0 ? size : extended == 2 ? 126 : 127));
    for (std::size_t i = extended; i-- > 0;)
        wire.push_back(static_cast<std::byte>(size >> (8 * i)));
    append(wire, payload);
}

void append_websocket_close(ByteBuffer& wire, std::uint16_t code, std::string_view text) {
    std::string payload{static_cast<char>(code >> 8), static_cast<char>(code & 0xff)};
    payload.append(text.substr(0, max_close_text));
    append_websocket_frame(wire, op_close, as_bytes(payload));
}

}  // namespace dinx::node
