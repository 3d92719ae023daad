#include "node/websocket_frame_reader.hpp"

#include "node/websocket_wire.hpp"

#include <algorithm>
#include <cstring>

namespace dinx::node {

namespace {

using namespace websocket_wire;
// The steps below return an event of kind need_more when nothing stops the read.
using Kind = WebSocketFrameEvent::Kind;

// Where the two sides' rules differ. The texts go out in close frames, so each side keeps the
// words it has always sent: a client names both fragmentation faults alike.
struct SourceRules {
    std::uint8_t mask;                     // the mask bit every frame of this side carries
    std::uint8_t mask_size;                // the mask key's bytes in the header
    bool checks_close_codes;               // a close with a code no endpoint sends is refused
    std::string_view mask_text;            // the close text when the mask bit is wrong
    std::string_view mask_violation;       // and the rule's name
    std::string_view continuation_text;    // a continuation without a message
    std::string_view inside_message_text;  // a new message inside a message
};

// Frames from a client, which the server layer reads, and from a server, which the client layer
// reads. The server has always refused close codes that must not be on the wire; the client
// echoes whatever its server sends, as it always has.
constexpr SourceRules client_rules{mask_bit,
                                   4,
                                   true,
                                   "client frames must be masked",
                                   "sent an unmasked WebSocket frame",
                                   "continuation without a message",
                                   "new message inside a message"};
constexpr SourceRules server_rules{0,
                                   0,
                                   false,
                                   "server frames must not be masked",
                                   "sent a masked WebSocket frame",
                                   "broken message fragmentation",
                                   "broken message fragmentation"};

const SourceRules& rules_of(FrameSource source) {
    return source == FrameSource::client ? client_rules : server_rules;
}

// RFC 6455 section 7.4 and IANA's registry (1012-1014 registered since): codes an endpoint may
// send; 1004-1006 and 1015 never go on the wire.
bool is_valid_close_code(unsigned code) {
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
           (code >= 3000 && code <= 4999);
}

bool is_control(std::uint8_t opcode) {
    return (opcode & 0x8) != 0;
}

// Unmasks `n` bytes whose first is at `offset` in its frame's payload, eight at a time: every
// client byte a server reads goes through here.
void unmask(const std::byte* in, std::byte* out, std::size_t n, const std::uint8_t* mask,
            std::uint64_t offset) {
    std::byte turned[8];  // the mask from `offset` on, twice: byte i masks payload byte i
    for (std::size_t i = 0; i < 8; ++i) turned[i] = std::byte{mask[(offset + i) & 3]};
    std::uint64_t mask8;
    std::memcpy(&mask8, turned, 8);
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        std::uint64_t word;
        std::memcpy(&word, in + i, 8);
        word ^= mask8;
        std::memcpy(out + i, &word, 8);
    }
    for (; i < n; ++i) out[i] = in[i] ^ turned[i & 7];
}

}  // namespace

WebSocketFrameReader::WebSocketFrameReader(FrameSource source) : source_(source) {}

WebSocketFrameReader::~WebSocketFrameReader() = default;

WebSocketFrameEvent WebSocketFrameReader::read(Bytes& wire, ByteBuffer& up,
                                               std::uint64_t max_message_bytes) {
    // The last ping's or pong's payload, which the caller has answered by now; a control frame
    // still being read keeps its buffer.
    if (!in_payload_) control_.reset();
    while (true) {
        if (!in_payload_) {
            if (wire.empty()) return {};
            auto event = take_header(wire, max_message_bytes);
            if (event.kind != Kind::need_more) return event;
            if (!in_payload_) return {};  // the read ended inside a header
        }
        take_payload(wire, up);
        if (payload_left_ > 0) return {};
        if (auto event = finish_frame(); event.kind != Kind::need_more) return event;
    }
}

void WebSocketFrameReader::fill_header(Bytes& wire, std::size_t wanted) {
    auto n = std::min<std::size_t>(wire.size(), wanted > header_have_ ? wanted - header_have_ : 0);
    std::copy_n(reinterpret_cast<const std::uint8_t*>(wire.data()), n,
                header_.begin() + header_have_);
    header_have_ = static_cast<std::uint8_t>(header_have_ + n);
    wire = wire.subspan(n);
}

WebSocketFrameEvent WebSocketFrameReader::take_header(Bytes& wire,
                                                      std::uint64_t max_message_bytes) {
    if (header_have_ < 2) {
        fill_header(wire, 2);
        if (header_have_ < 2) return {};
        // The first two bytes decide most rules: refuse before the rest of the header arrives.
        if (auto event = check_start(); event.kind != Kind::need_more) return event;
    }
    fill_header(wire, header_size());
    if (header_have_ < header_size()) return {};
    return check_header(max_message_bytes);
}

WebSocketFrameEvent WebSocketFrameReader::check_start() {
    constexpr std::string_view fragments = "broke WebSocket message fragmentation";
    const auto& rules = rules_of(source_);
    auto op = opcode();
    if ((header_[0] & rsv_bits) != 0)  // no extension was negotiated
        return fail(1002, "reserved bits set", "sent a WebSocket frame with RSV bits set");
    if ((header_[1] & mask_bit) != rules.mask)
        return fail(1002, rules.mask_text, rules.mask_violation);
    if (is_control(op)) {
        if (op != op_close && op != op_ping && op != op_pong)
            return fail(1002, "unknown opcode", "sent an unknown WebSocket opcode");
        if ((header_[0] & fin_bit) == 0 || (header_[1] & 0x7f) > max_control_payload)
            return fail(1002, "bad control frame", "sent a bad WebSocket control frame");
        return {};
    }
    if (op == op_text) return fail(1003, "binary messages only", "sent a WebSocket text message");
    if (op != op_binary && op != op_continuation)
        return fail(1002, "unknown opcode", "sent an unknown WebSocket opcode");
    if (op == op_continuation && !in_message_)
        return fail(1002, rules.continuation_text, fragments);
    if (op == op_binary && in_message_) return fail(1002, rules.inside_message_text, fragments);
    return {};
}

WebSocketFrameEvent WebSocketFrameReader::check_header(std::uint64_t max_message_bytes) {
    auto length = frame_length();
    if ((length >> 63) != 0)
        return fail(1002, "bad frame length", "sent a WebSocket frame length with the top bit set");
    if (is_control(opcode())) {
        // Kept whole until its end: a pong or a close needs all of it (at most 125 bytes).
        if (length > 0) control_ = std::make_unique<std::byte[]>(length);
    } else {
        // Checked before the payload arrives: a message's fragments go up as they come.
        // message_bytes_ never exceeds the limit, so the subtraction cannot wrap.
        if (length > max_message_bytes - message_bytes_)
            return fail(1009, "message too big", "sent a WebSocket message over the size limit");
        message_bytes_ += length;
    }
    payload_left_ = length;
    in_payload_ = true;
    return {};
}

void WebSocketFrameReader::take_payload(Bytes& wire, ByteBuffer& up) {
    auto n = static_cast<std::size_t>(std::min<std::uint64_t>(payload_left_, wire.size()));
    if (n == 0) return;
    auto offset = frame_length() - payload_left_;
    std::byte* out = nullptr;
    if (control_) {
        out = control_.get() + offset;
    } else {
        // Straight from the read into the frame stream: no payload buffer in between.
        up.resize(up.size() + n);
        out = up.data() + up.size() - n;
    }
    if (source_ == FrameSource::client)
        unmask(wire.data(), out, n, header_.data() + header_have_ - 4, offset);
    else
        std::memcpy(out, wire.data(), n);
    payload_left_ -= n;
    wire = wire.subspan(n);
}

WebSocketFrameEvent WebSocketFrameReader::finish_frame() {
    auto op = opcode();
    bool fin = (header_[0] & fin_bit) != 0;
    // control_ stays until the next read(): the caller answers a ping with its payload.
    Bytes payload{control_.get(), control_ ? static_cast<std::size_t>(frame_length()) : 0};
    header_have_ = 0;
    in_payload_ = false;
    if (op == op_ping) return {Kind::ping, 0, payload, {}, {}};
    if (op == op_pong) return {Kind::pong, 0, payload, {}, {}};
    if (op == op_close) return take_close(payload);
    in_message_ = !fin;
    if (fin) message_bytes_ = 0;
    return {};
}

WebSocketFrameEvent WebSocketFrameReader::take_close(Bytes payload) {
    constexpr std::string_view bad_close = "sent a bad WebSocket close frame";
    if (payload.size() == 1) return fail(1002, "close payload of 1 byte", bad_close);
    unsigned code = 1005;  // RFC 6455 section 7.1.5: "no status code was present"
    if (payload.size() >= 2) {
        code = std::to_integer<unsigned>(payload[0]) << 8 | std::to_integer<unsigned>(payload[1]);
        if (rules_of(source_).checks_close_codes && !is_valid_close_code(code))
            return fail(1002, "bad close code", bad_close);
    }
    // The reason text is not checked as UTF-8: neither side logs or uses it.
    control_.reset();  // nothing is read after a close
    return {Kind::close, static_cast<std::uint16_t>(code), {}, {}, {}};
}

WebSocketFrameEvent WebSocketFrameReader::fail(std::uint16_t code, std::string_view text,
                                               std::string_view violation) {
    control_.reset();  // nothing is read after a violation
    return {Kind::violation, code, {}, text, violation};
}

std::size_t WebSocketFrameReader::header_size() const {
    std::uint8_t length7 = header_[1] & 0x7f;
    std::size_t extended = length7 == 126 ? 2 : length7 == 127 ? 8 : 0;
    return 2 + extended + rules_of(source_).mask_size;  // check_start refused a wrong mask bit
}

std::uint64_t WebSocketFrameReader::frame_length() const {
    std::uint8_t length7 = header_[1] & 0x7f;
    std::size_t extended = length7 == 126 ? 2 : length7 == 127 ? 8 : 0;
    if (extended == 0) return length7;
    std::uint64_t length = 0;
    for (std::size_t i = 0; i < extended; ++i) length = length << 8 | header_[2 + i];
    return length;
}

std::size_t WebSocketFrameReader::held_bytes() const {
    return control_ ? static_cast<std::size_t>(frame_length()) : 0;
}

}  // namespace dinx::node
