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

// RFC 6455 section 7.4 and IANA's registry (1012-1014 registered since): codes an endpoint may
// send; 1004-1006 and 1015 never go on the wire.
bool is_valid_close_code(unsigned code) {
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
           (code >= 3000 && code <= 4999);
}

bool is_control(std::uint8_t opcode) {
    return (opcode & 0x8) != 0;
}

}  // namespace

WebSocketLayer::WebSocketLayer(std::shared_ptr<const WebSocketOptions> options)
    : options_(std::move(options)) {}

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
    while (true) {
        if (!in_payload_) {
            if (wire.empty()) return LayerVerdict::go_on();
            auto verdict = take_header(wire, reply);
            if (!verdict.keep_open) return verdict;
            if (!in_payload_) return LayerVerdict::go_on();  // the read ended inside a header
        }
        take_payload(wire, up);
        if (payload_left_ > 0) return LayerVerdict::go_on();
        auto verdict = finish_frame(reply);
        if (!verdict.keep_open) return verdict;
    }
}

void WebSocketLayer::fill_header(Bytes& wire, std::size_t wanted) {
    auto n = std::min<std::size_t>(wire.size(), wanted > header_have_ ? wanted - header_have_ : 0);
    std::copy_n(reinterpret_cast<const std::uint8_t*>(wire.data()), n,
                header_.begin() + header_have_);
    header_have_ = static_cast<std::uint8_t>(header_have_ + n);
    wire = wire.subspan(n);
}

LayerVerdict WebSocketLayer::take_header(Bytes& wire, ByteBuffer& reply) {
    if (header_have_ < 2) {
        fill_header(wire, 2);
        if (header_have_ < 2) return LayerVerdict::go_on();
        // The first two bytes decide most rules: refuse before the rest of the header arrives.
        if (auto verdict = check_start(reply); !verdict.keep_open) return verdict;
    }
    fill_header(wire, header_size());
    if (header_have_ < header_size()) return LayerVerdict::go_on();
    return check_header(reply);
}

LayerVerdict WebSocketLayer::check_start(ByteBuffer& reply) {
    constexpr std::string_view fragments = "broke WebSocket message fragmentation";
    std::uint8_t opcode = header_[0] & 0x0f;
    if ((header_[0] & rsv_bits) != 0)  // no extension was negotiated
        return fail(reply, 1002, "reserved bits set", "sent a WebSocket frame with RSV bits set");
    if ((header_[1] & mask_bit) == 0)
        return fail(reply, 1002, "client frames must be masked",
                    "sent an unmasked WebSocket frame");
    if (is_control(opcode)) {
        if (opcode != op_close && opcode != op_ping && opcode != op_pong)
            return fail(reply, 1002, "unknown opcode", "sent an unknown WebSocket opcode");
        if ((header_[0] & fin_bit) == 0 || (header_[1] & 0x7f) > max_control_payload)
            return fail(reply, 1002, "bad control frame", "sent a bad WebSocket control frame");
        return LayerVerdict::go_on();
    }
    if (opcode == op_text)
        return fail(reply, 1003, "binary messages only", "sent a WebSocket text message");
    if (opcode != op_binary && opcode != op_continuation)
        return fail(reply, 1002, "unknown opcode", "sent an unknown WebSocket opcode");
    if (opcode == op_continuation && !in_message_)
        return fail(reply, 1002, "continuation without a message", fragments);
    if (opcode == op_binary && in_message_)
        return fail(reply, 1002, "new message inside a message", fragments);
    return LayerVerdict::go_on();
}

LayerVerdict WebSocketLayer::check_header(ByteBuffer& reply) {
    auto length = frame_length();
    if ((length >> 63) != 0)
        return fail(reply, 1002, "bad frame length",
                    "sent a WebSocket frame length with the top bit set");
    if (is_control(header_[0] & 0x0f)) {
        // Kept whole until its end: a pong or a close needs all of it (at most 125 bytes).
        if (length > 0) control_ = std::make_unique<std::byte[]>(length);
    } else {
        // Checked before the payload arrives: a message's fragments go up as they come.
        if (message_bytes_ + length > options_->max_message_bytes)
            return fail(reply, 1009, "message too big",
                        "sent a WebSocket message over the size limit");
        message_bytes_ += length;
    }
    payload_left_ = length;
    in_payload_ = true;
    return LayerVerdict::go_on();
}

void WebSocketLayer::take_payload(Bytes& wire, ByteBuffer& up) {
    auto n = static_cast<std::size_t>(std::min<std::uint64_t>(payload_left_, wire.size()));
    auto offset = frame_length() - payload_left_;
    std::byte* out = nullptr;
    if (control_) {
        out = control_.get() + offset;
    } else {
        up.resize(up.size() + n);
        out = up.data() + up.size() - n;
    }
    const std::uint8_t* mask = header_.data() + header_have_ - 4;
    for (std::size_t i = 0; i < n; ++i)
        out[i] = wire[i] ^ static_cast<std::byte>(mask[(offset + i) & 3]);
    payload_left_ -= n;
    wire = wire.subspan(n);
}

LayerVerdict WebSocketLayer::finish_frame(ByteBuffer& reply) {
    std::uint8_t opcode = header_[0] & 0x0f;
    bool fin = (header_[0] & fin_bit) != 0;
    Bytes payload{control_.get(), control_ ? static_cast<std::size_t>(frame_length()) : 0};
    auto control = std::move(control_);  // freed on return
    header_have_ = 0;
    in_payload_ = false;
    if (opcode == op_ping) append_websocket_frame(reply, op_pong, payload);
    if (opcode == op_close) return take_close(payload, reply);
    if (!is_control(opcode)) {
        in_message_ = !fin;
        if (fin) message_bytes_ = 0;
    }
    return LayerVerdict::go_on();  // a pong needs nothing: the read itself was the sign of life
}

LayerVerdict WebSocketLayer::take_close(Bytes payload, ByteBuffer& reply) {
    constexpr std::string_view bad_close = "sent a bad WebSocket close frame";
    if (payload.size() == 1) return fail(reply, 1002, "close payload of 1 byte", bad_close);
    unsigned code = 1005;  // RFC 6455 section 7.1.5: "no status code was present"
    if (payload.size() >= 2) {
        code = std::to_integer<unsigned>(payload[0]) << 8 | std::to_integer<unsigned>(payload[1]);
        if (!is_valid_close_code(code)) return fail(reply, 1002, "bad close code", bad_close);
    }
    // The reason text is not checked as UTF-8: it is neither logged nor used.
    append_websocket_close(reply, static_cast<std::uint16_t>(code == 1005 ? 1000 : code), {});
    phase_ = Phase::closed;
    return LayerVerdict::end("peer closed (websocket " + std::to_string(code) + ")");
}

LayerVerdict WebSocketLayer::fail(ByteBuffer& reply, std::uint16_t code, std::string_view text,
                                  std::string_view violation) {
    append_websocket_close(reply, code, text);
    phase_ = Phase::closed;
    control_.reset();
    return LayerVerdict::end(
        "websocket closed with " + std::to_string(code) + ": " + std::string{text}, violation);
}

std::size_t WebSocketLayer::header_size() const {
    std::uint8_t length7 = header_[1] & 0x7f;
    std::size_t extended = length7 == 126 ? 2 : length7 == 127 ? 8 : 0;
    return 2 + extended + 4;  // the mask: check_start refused unmasked frames
}

std::uint64_t WebSocketLayer::frame_length() const {
    std::uint8_t length7 = header_[1] & 0x7f;
    std::size_t extended = length7 == 126 ? 2 : length7 == 127 ? 8 : 0;
    if (extended == 0) return length7;
    std::uint64_t length = 0;
    for (std::size_t i = 0; i < extended; ++i) length = length << 8 | header_[2 + i];
    return length;
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
    std::size_t held = control_ ? static_cast<std::size_t>(frame_length()) : 0;
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
