#include "node/websocket_client_layer.hpp"

#include "node/tls_layer.hpp"
#include "node/websocket_handshake.hpp"
#include "node/websocket_wire.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <random>

namespace dinx::node {

// Freed once the handshake is done: an open connection keeps none of it.
struct WebSocketClientLayer::Handshake {
    std::string key;       // our Sec-WebSocket-Key, which the answer's accept key must match
    std::string head;      // the answer's head so far, at most max_answer_head bytes
    ByteBuffer early_out;  // frame bytes wrapped before the 101, sent right after it
    bool request_sent = false;
};

namespace {

using namespace websocket_wire;

// A server answering more than this before its empty line is not the gate we asked.
constexpr std::size_t max_answer_head = 8192;
// The longest status line quoted in a reason: it comes from the server, and reaches logs.
constexpr std::size_t max_quoted_status = 100;

std::string base64(const std::array<std::uint64_t, 2>& bytes) {
    std::array<unsigned char, 25> encoded{};  // 16 bytes are 24 digits, and EVP adds a NUL
    int length = EVP_EncodeBlock(encoded.data(), reinterpret_cast<const unsigned char*>(&bytes),
                                 sizeof bytes);
    return {reinterpret_cast<const char*>(encoded.data()), static_cast<std::size_t>(length)};
}

std::string_view trim(std::string_view text) {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
    return text;
}

std::string_view cut_line(std::string_view& text) {
    auto end = text.find('\n');
    auto line = text.substr(0, end);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    if (line.ends_with('\r')) line.remove_suffix(1);
    return line;
}

// The answer's fields. HttpRequestHead's field helpers serve an answer's fields as well.
std::optional<HttpRequestHead> parse_fields(std::string_view text) {
    HttpRequestHead head;
    for (auto line = cut_line(text); !line.empty(); line = cut_line(text)) {
        auto colon = line.find(':');
        auto name = line.substr(0, colon);
        if (colon == std::string_view::npos || name.empty() || trim(name) != name)
            return std::nullopt;
        head.fields.push_back({name, trim(line.substr(colon + 1))});
    }
    return head;
}

// Why a whole answer head is not the upgrade we asked for, or "" when it is.
std::string answer_flaw(std::string_view text, std::string_view key,
                        const WebSocketClientOptions& options) {
    auto status = cut_line(text);
    if (!status.starts_with("HTTP/1.1 101 ") && status != "HTTP/1.1 101")
        return std::string{status.substr(0, max_quoted_status)};
    auto head = parse_fields(text);
    if (!head) return "a malformed header field";
    if (!head->has_token("Upgrade", "websocket")) return "no Upgrade: websocket";
    if (!head->has_token("Connection", "upgrade")) return "no Connection: upgrade";
    if (head->count("Sec-WebSocket-Accept") != 1 ||
        head->field("Sec-WebSocket-Accept") != websocket_accept(key))
        return "wrong Sec-WebSocket-Accept";
    if (head->count("Sec-WebSocket-Extensions") != 0) return "an extension we did not offer";
    auto protocol = head->field("Sec-WebSocket-Protocol");
    if (protocol && (options.subprotocol.empty() || *protocol != options.subprotocol))
        return "a subprotocol we did not offer";
    return {};
}

}  // namespace

WebSocketClientLayer::WebSocketClientLayer(WebSocketClientOptions options)
    : options_(std::move(options)),
      handshake_(std::make_unique<Handshake>()),
      reader_(FrameSource::server) {
    // RFC 6455 wants keys and mask keys a server cannot predict. A fast generator seeded from
    // the system is enough for what uses this layer (the demo client, tests, load tools); a
    // browser-grade client would draw from a cryptographic source.
    std::random_device system;
    random_state_ = std::uint64_t{system()} << 32 | system();
    if (random_state_ == 0) random_state_ = 0x9e3779b97f4a7c15;  // xorshift never leaves 0
    handshake_->key = base64({next_random(), next_random()});
}

WebSocketClientLayer::~WebSocketClientLayer() = default;

void WebSocketClientLayer::open(ByteBuffer& wire) {
    if (phase_ != Phase::handshaking || handshake_->request_sent) return;
    handshake_->request_sent = true;
    std::string request =
        "GET " + options_.path + " HTTP/1.1\r\nHost: " + options_.host +
        "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + handshake_->key +
        "\r\nSec-WebSocket-Version: 13\r\n";
    if (!options_.origin.empty()) request += "Origin: " + options_.origin + "\r\n";
    if (!options_.subprotocol.empty())
        request += "Sec-WebSocket-Protocol: " + options_.subprotocol + "\r\n";
    request += "\r\n";
    append(wire, as_bytes(request));
}

LayerVerdict WebSocketClientLayer::take_in(Bytes wire, ByteBuffer& up, ByteBuffer& reply) {
    // Bytes after the end are ignored: the transport is closing.
    if (phase_ == Phase::refused) return LayerVerdict::end("websocket handshake refused");
    if (phase_ == Phase::closed) return LayerVerdict::end("websocket closed");
    if (phase_ == Phase::handshaking) {
        auto verdict = take_answer(wire, reply);
        if (!verdict.keep_open || phase_ == Phase::handshaking) return verdict;
    }
    return take_frames(wire, up, reply);
}

// --- handshake ---------------------------------------------------------------------------------

LayerVerdict WebSocketClientLayer::take_answer(Bytes& wire, ByteBuffer& reply) {
    auto& head = handshake_->head;
    auto old_size = head.size();
    auto taken = std::min(wire.size(), max_answer_head - old_size);
    head.append(as_text(wire.first(taken)));
    // A line end split across reads starts at most 2 bytes before the new ones.
    auto end = find_head_end(head, old_size >= 2 ? old_size - 2 : 0);
    auto head_size = end != 0 ? end : head.size();
    if (head_size > old_size &&
        has_forbidden_byte(std::string_view{head}.substr(old_size, head_size - old_size)))
        return refuse("websocket handshake refused: the answer is not HTTP");
    if (end == 0) {
        if (head.size() < max_answer_head) return LayerVerdict::go_on();
        return refuse("websocket handshake refused: an answer head over " +
                      std::to_string(max_answer_head) + " bytes");
    }
    wire = wire.subspan(end - old_size);  // what follows the head is frames
    auto flaw = answer_flaw(std::string_view{head}.substr(0, end), handshake_->key, options_);
    if (!flaw.empty()) return refuse("websocket handshake refused: " + flaw);
    phase_ = Phase::open;
    auto early_out = std::move(handshake_->early_out);
    handshake_.reset();
    if (!early_out.empty()) append_masked(reply, op_binary, early_out);
    return LayerVerdict::go_on();
}

LayerVerdict WebSocketClientLayer::refuse(std::string reason) {
    // No close frame: RFC 6455 section 4.1 says to fail the connection, which is not open.
    phase_ = Phase::refused;
    handshake_.reset();
    return LayerVerdict::end(std::move(reason));
}

// --- frames ------------------------------------------------------------------------------------

LayerVerdict WebSocketClientLayer::take_frames(Bytes wire, ByteBuffer& up, ByteBuffer& reply) {
    using Kind = WebSocketFrameEvent::Kind;
    while (true) {
        // A client reads what its server sends: no message limit of its own.
        auto event = reader_.read(wire, up, std::numeric_limits<std::uint64_t>::max());
        switch (event.kind) {
            case Kind::need_more:
                return LayerVerdict::go_on();
            case Kind::ping:
                append_masked(reply, op_pong, event.payload);
                break;
            case Kind::pong:
                break;
            case Kind::close:
                return take_close(event.code, reply);
            case Kind::violation:
                // A client names no violation: a server breaking rules is not counted here.
                return fail(reply, event.code, event.text);
        }
    }
}

LayerVerdict WebSocketClientLayer::take_close(std::uint16_t code, ByteBuffer& reply) {
    // The echo carries the server's code (RFC 6455 section 5.5.1), 1000 for none.
    auto echoed = static_cast<std::uint16_t>(code == 1005 ? 1000 : code);
    const std::byte echo[2] = {std::byte(echoed >> 8), std::byte(echoed & 0xff)};
    append_masked(reply, op_close, echo);
    phase_ = Phase::closed;
    return LayerVerdict::end("server closed (websocket " + std::to_string(code) + ")");
}

LayerVerdict WebSocketClientLayer::fail(ByteBuffer& reply, std::uint16_t code,
                                        std::string_view text) {
    std::string payload{static_cast<char>(code >> 8), static_cast<char>(code & 0xff)};
    payload.append(text);
    append_masked(reply, op_close, as_bytes(payload));
    phase_ = Phase::closed;
    return LayerVerdict::end("websocket closed with " + std::to_string(code) + ": " +
                             std::string{text});
}

// --- sending -----------------------------------------------------------------------------------

void WebSocketClientLayer::wrap_out(Bytes up, ByteBuffer& wire) {
    if (up.empty()) return;
    if (phase_ == Phase::handshaking) append(handshake_->early_out, up);
    if (phase_ == Phase::open) append_masked(wire, op_binary, up);
}

void WebSocketClientLayer::say_goodbye(ByteBuffer& wire) {
    if (phase_ != Phase::open) return;
    const std::byte normal[2] = {std::byte{1000 >> 8}, std::byte{1000 & 0xff}};
    append_masked(wire, op_close, normal);
    phase_ = Phase::closed;
}

void WebSocketClientLayer::probe(ByteBuffer& wire) {
    if (phase_ == Phase::open) append_masked(wire, op_ping, {});
}

void WebSocketClientLayer::append_masked(ByteBuffer& wire, std::uint8_t opcode, Bytes payload) {
    auto size = payload.size();
    std::size_t extended = size < 126 ? 0 : size <= 0xffff ? 2 : 8;
    wire.push_back(static_cast<std::byte>(fin_bit | opcode));
    wire.push_back(static_cast<std::byte>(mask_bit | (extended == 0   ? size
                                                      : extended == 2 ? 126
                                                                      : 127)));
    for (std::size_t i = extended; i-- > 0;)
        wire.push_back(static_cast<std::byte>(size >> (8 * i)));
    auto key = static_cast<std::uint32_t>(next_random() >> 32);
    std::byte mask[4];
    std::memcpy(mask, &key, sizeof mask);
    append(wire, Bytes{mask, sizeof mask});
    auto at = wire.size();
    wire.resize(at + size);
    std::byte* out = wire.data() + at;
    // Eight bytes at a time: a load run masks every request it sends.
    std::uint64_t mask8 = std::uint64_t{key} << 32 | key;
    std::size_t i = 0;
    for (; i + 8 <= size; i += 8) {
        std::uint64_t word;
        std::memcpy(&word, payload.data() + i, 8);
        word ^= mask8;
        std::memcpy(out + i, &word, 8);
    }
    for (; i < size; ++i) out[i] = payload[i] ^ mask[i & 3];
}

std::uint64_t WebSocketClientLayer::next_random() {
    // xorshift64* (Vigna): fast, and its high bits pass the usual statistical tests.
    random_state_ ^= random_state_ >> 12;
    random_state_ ^= random_state_ << 25;
    random_state_ ^= random_state_ >> 27;
    return random_state_ * 0x2545f4914f6cdd1d;
}

std::size_t WebSocketClientLayer::held_bytes() const {
    std::size_t held = reader_.held_bytes();
    if (handshake_)
        held += sizeof(Handshake) + handshake_->head.capacity() + handshake_->early_out.capacity();
    return held;
}

std::unique_ptr<WireLayer> make_client_layer(
    std::shared_ptr<TlsContext> tls, const std::optional<WebSocketClientOptions>& websocket) {
    std::unique_ptr<WireLayer> layer;
    if (tls) layer = std::make_unique<TlsLayer>(std::move(tls), TlsRole::client);
    if (!websocket) return layer;
    auto upper = std::make_unique<WebSocketClientLayer>(*websocket);
    if (!layer) return upper;
    return stack_layer(std::move(layer), std::move(upper));
}

}  // namespace dinx::node
