#include "node/websocket_layer.hpp"
#include "node/websocket_handshake.hpp"

#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

using namespace dinx;
using namespace dinx::node;

namespace {

constexpr std::uint8_t fin = 0x80;

std::string browser_request(std::string_view path = "/ws") {
    return "GET " + std::string{path} +
           " HTTP/1.1\r\n"
           "Host: game.example:8080\r\n"
           "User-Agent: Mozilla/5.0 (X11; Linux x86_64)\r\n"
           "Upgrade: websocket\r\n"
           "Connection: keep-alive, Upgrade\r\n"
           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
           "Sec-WebSocket-Version: 13\r\n"
           "Origin: http://game.example\r\n"
           "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
           "\r\n";
}

// The request with the first occurrence of `from` replaced (an empty `to` drops it).
std::string edited(std::string text, std::string_view from, std::string_view to) {
    auto at = text.find(from);
    REQUIRE(at != std::string::npos);
    return text.replace(at, from.size(), to);
}

WebSocketOptions test_options() {
    WebSocketOptions options;
    options.path = "/ws";
    options.max_message_bytes = 1000;
    options.max_handshake_bytes = 1024;
    return options;
}

std::unique_ptr<WebSocketLayer> make_layer(WebSocketOptions options = test_options()) {
    return std::make_unique<WebSocketLayer>(
        std::make_shared<const WebSocketOptions>(std::move(options)));
}

struct Fed {
    LayerVerdict verdict;
    ByteBuffer up;
    ByteBuffer reply;
};

Fed feed(WireLayer& layer, Bytes wire) {
    Fed fed;
    fed.verdict = layer.take_in(wire, fed.up, fed.reply);
    return fed;
}

Fed feed(WireLayer& layer, std::string_view wire) {
    return feed(layer, as_bytes(wire));
}

std::string text(const ByteBuffer& bytes) {
    return std::string{as_text(bytes)};
}

// A layer past a successful handshake.
std::unique_ptr<WebSocketLayer> open_layer(WebSocketOptions options = test_options()) {
    auto layer = make_layer(std::move(options));
    auto fed = feed(*layer, browser_request());
    REQUIRE(fed.verdict.keep_open);
    REQUIRE(text(fed.reply).starts_with("HTTP/1.1 101 "));
    return layer;
}

// A client frame as a browser sends it: masked, with the smallest length encoding.
ByteBuffer client_frame(std::uint8_t first, std::string_view payload, bool masked = true) {
    const std::uint8_t mask[4] = {0x37, 0xfa, 0x21, 0x3d};
    ByteBuffer out{std::byte{first}};
    auto size = payload.size();
    auto mask_flag = static_cast<std::uint8_t>(masked ? 0x80 : 0);
    std::size_t extended = size < 126 ? 0 : size <= 0xffff ? 2 : 8;
    auto length7 = extended == 0 ? size : extended == 2 ? 126 : 127;
    out.push_back(static_cast<std::byte>(mask_flag | length7));
    for (std::size_t i = extended; i-- > 0;) out.push_back(static_cast<std::byte>(size >> (8 * i)));
    if (masked)
        for (auto m : mask) out.push_back(std::byte{m});
    for (std::size_t i = 0; i < size; ++i)
        out.push_back(static_cast<std::byte>(payload[i] ^ (masked ? mask[i % 4] : 0)));
    return out;
}

ByteBuffer buffer(std::string_view text) {
    auto bytes = as_bytes(text);
    return {bytes.begin(), bytes.end()};
}

ByteBuffer operator+(ByteBuffer a, const ByteBuffer& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

// A frame the server sent: its first byte and payload.
struct ServerFrame {
    std::uint8_t first = 0;
    std::string payload;
};

std::vector<ServerFrame> server_frames(const ByteBuffer& wire) {
    std::vector<ServerFrame> frames;
    std::size_t at = 0;
    while (at < wire.size()) {
        REQUIRE(wire.size() - at >= 2);
        auto byte = [&](std::size_t i) { return std::to_integer<std::uint64_t>(wire.at(at + i)); };
        REQUIRE((byte(1) & 0x80) == 0);  // a server never masks
        std::uint64_t size = byte(1) & 0x7f;
        std::size_t header = size == 126 ? 4 : size == 127 ? 10 : 2;
        if (header > 2) size = 0;
        for (std::size_t i = 2; i < header; ++i) size = size << 8 | byte(i);
        REQUIRE(wire.size() - at - header >= size);
        frames.push_back({static_cast<std::uint8_t>(byte(0)),
                          std::string{as_text(Bytes{wire}.subspan(at + header, size))}});
        at += header + size;
    }
    return frames;
}

// The code of the one close frame in `reply`.
unsigned close_code(const ByteBuffer& reply) {
    auto frames = server_frames(reply);
    REQUIRE(frames.size() == 1);
    REQUIRE(frames[0].first == (fin | 0x8));
    REQUIRE(frames[0].payload.size() >= 2);
    return static_cast<unsigned char>(frames[0].payload[0]) << 8 |
           static_cast<unsigned char>(frames[0].payload[1]);
}

}  // namespace

TEST_CASE("the accept key of RFC 6455's sample key is its sample answer") {
    CHECK(websocket_accept("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST_CASE("a request head is parsed with case-insensitive names and comma lists") {
    auto head = parse_request_head(
        "GET /ws?room=1 HTTP/1.1\r\nhOsT: a\r\nConnection:  keep-alive , UPGRADE \r\n\r\n");
    REQUIRE(head);
    CHECK(head->path() == "/ws");
    CHECK(head->field("host") == "a");
    CHECK(head->has_token("CONNECTION", "upgrade"));
    CHECK_FALSE(head->has_token("Connection", "close"));
    CHECK(parse_request_head("GET / HTTP/1.1\nHost: a\n\n"));  // bare LF line ends
    CHECK_FALSE(parse_request_head("GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n"));
    CHECK_FALSE(parse_request_head("GET / HTTP/1.1\r\nHost a\r\n\r\n"));
    CHECK_FALSE(parse_request_head("GET /  HTTP/1.1\r\n\r\n"));
    CHECK_FALSE(parse_request_head("GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n"));
    CHECK(find_head_end("GET / HTTP/1.1\r\n\r\nxyz") == 18);
    CHECK(find_head_end("GET / HTTP/1.1\r\n\r") == 0);
}

TEST_CASE("Sec-WebSocket-Key must be base64 of 16 bytes") {
    CHECK(is_websocket_key("dGhlIHNhbXBsZSBub25jZQ=="));
    CHECK_FALSE(is_websocket_key("dGhlIHNhbXBsZSBub25jZQ="));
    CHECK_FALSE(is_websocket_key("dGhlIHNhbXBsZSBub25jZQ=A"));
    CHECK_FALSE(is_websocket_key("dGhlIHNhbXBsZSBub25j*Q=="));
    CHECK_FALSE(is_websocket_key("dGhlIHNhbXBsZSBub25jZQabcd=="));
}

TEST_CASE("a browser's upgrade request is answered 101 with the accept key") {
    auto layer = make_layer();
    CHECK_FALSE(layer->handshake_done());
    auto fed = feed(*layer, browser_request());
    CHECK(fed.verdict.keep_open);
    CHECK(text(fed.reply) ==
          "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n");
    CHECK(fed.up.empty());
    CHECK(layer->handshake_done());
    CHECK(layer->held_bytes() == 0);
    CHECK(layer->name() == "websocket");
}

TEST_CASE("an upgrade of another path gets 404") {
    auto fed = feed(*make_layer(), browser_request("/other"));
    CHECK(text(fed.reply).starts_with("HTTP/1.1 404 Not Found\r\n"));
    CHECK(text(fed.reply).find("Connection: close\r\n") != std::string::npos);
    CHECK_FALSE(fed.verdict.keep_open);
    CHECK(fed.verdict.violation == "asked to upgrade an unknown path");
}

TEST_CASE("an Origin not in the allowed list gets 403 and a listed one is accepted") {
    auto options = test_options();
    options.allowed_origins = {"http://other.example", "http://game.example"};
    CHECK(text(feed(*make_layer(options), browser_request()).reply).starts_with("HTTP/1.1 101 "));
    auto foreign = edited(browser_request(), "game.example\r\n", "evil.example\r\n");
    auto fed = feed(*make_layer(options), foreign);
    CHECK(text(fed.reply).starts_with("HTTP/1.1 403 Forbidden\r\n"));
    CHECK(fed.verdict.violation == "sent a forbidden Origin");
    auto none = edited(browser_request(), "Origin: http://game.example\r\n", "");
    CHECK(text(feed(*make_layer(options), none).reply).starts_with("HTTP/1.1 403 "));
}

TEST_CASE("the subprotocol is echoed when offered and omitted when not") {
    auto options = test_options();
    options.subprotocol = "zinx";
    auto offered =
        edited(browser_request(), "\r\n\r\n", "\r\nSec-WebSocket-Protocol: chat, zinx\r\n\r\n");
    auto fed = feed(*make_layer(options), offered);
    CHECK(text(fed.reply).find("\r\nSec-WebSocket-Protocol: zinx\r\n") != std::string::npos);
    auto other = edited(browser_request(), "\r\n\r\n", "\r\nSec-WebSocket-Protocol: chat\r\n\r\n");
    fed = feed(*make_layer(options), other);
    CHECK(text(fed.reply).starts_with("HTTP/1.1 101 "));
    CHECK(text(fed.reply).find("Sec-WebSocket-Protocol") == std::string::npos);
}

TEST_CASE("a WebSocket version other than 13 or no Upgrade gets 426 naming the upgrade") {
    auto fed = feed(*make_layer(), edited(browser_request(), "Version: 13", "Version: 8"));
    CHECK(text(fed.reply).starts_with("HTTP/1.1 426 Upgrade Required\r\n"));
    CHECK(text(fed.reply).find("\r\nSec-WebSocket-Version: 13\r\n") != std::string::npos);
    CHECK(fed.verdict.violation == "sent an unsupported WebSocket version");
    fed = feed(*make_layer(), edited(browser_request(), "Upgrade: websocket\r\n", ""));
    CHECK(text(fed.reply).starts_with("HTTP/1.1 426 Upgrade Required\r\n"));
    CHECK(text(fed.reply).find("\r\nUpgrade: websocket\r\n") != std::string::npos);
}

TEST_CASE("a missing or malformed Sec-WebSocket-Key gets 400") {
    auto key_line = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
    for (std::string replacement : {"", "Sec-WebSocket-Key: c2hvcnQ=\r\n"}) {
        auto fed = feed(*make_layer(), edited(browser_request(), key_line, replacement));
        CHECK(text(fed.reply).starts_with("HTTP/1.1 400 Bad Request\r\n"));
        CHECK_FALSE(fed.verdict.keep_open);
        CHECK(fed.verdict.violation == "sent a bad WebSocket handshake");
    }
}

TEST_CASE("an upgrade without Connection upgrade, Host or GET gets 400") {
    for (auto [from, to] :
         {std::pair{"keep-alive, Upgrade", "keep-alive"},
          std::pair{"Host: game.example:8080\r\n", ""}, std::pair{"GET ", "POST "}}) {
        auto fed = feed(*make_layer(), edited(browser_request(), from, to));
        CHECK(text(fed.reply).starts_with("HTTP/1.1 400 "));
        CHECK(fed.verdict.violation == "sent a bad WebSocket handshake");
    }
}

TEST_CASE("a request head over the limit gets 431 and no more than the limit is kept") {
    auto options = test_options();
    options.max_handshake_bytes = 256;
    auto layer = make_layer(options);
    auto head = "GET /ws HTTP/1.1\r\nX-Padding: " + std::string(200, 'a');
    CHECK(feed(*layer, head).verdict.keep_open);
    CHECK(layer->held_bytes() >= head.size());
    auto fed = feed(*layer, std::string(100000, 'a'));
    CHECK(text(fed.reply).starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"));
    CHECK(fed.verdict.violation == "sent an HTTP request head over the size limit");
    CHECK(layer->held_bytes() == 0);
}

TEST_CASE("binary bytes where a request head belongs get 400 at once") {
    const char tlv[] = {0, 0, 0, 1, 0, 0, 0, 5, 'h', 'e', 'l', 'l', 'o'};
    auto fed = feed(*make_layer(), std::string_view{tlv, sizeof tlv});
    CHECK(text(fed.reply).starts_with("HTTP/1.1 400 "));
    CHECK(fed.verdict.violation == "sent a malformed HTTP request");
}

TEST_CASE("a head arriving byte by byte is answered once, after its last byte") {
    auto layer = make_layer();
    auto request = browser_request();
    for (std::size_t i = 0; i + 1 < request.size(); ++i) {
        auto fed = feed(*layer, std::string_view{request}.substr(i, 1));
        REQUIRE(fed.verdict.keep_open);
        REQUIRE(fed.reply.empty());
    }
    auto fed = feed(*layer, std::string_view{request}.substr(request.size() - 1));
    CHECK(text(fed.reply).starts_with("HTTP/1.1 101 "));
    CHECK(layer->handshake_done());
}

TEST_CASE("frame bytes in the same read as the head go up") {
    auto layer = make_layer();
    auto fed = feed(*layer, buffer(browser_request()) + client_frame(fin | 2, "tlv bytes"));
    CHECK(fed.verdict.keep_open);
    CHECK(text(fed.reply).starts_with("HTTP/1.1 101 "));
    CHECK(text(fed.up) == "tlv bytes");
}

TEST_CASE("a masked binary frame is unmasked into the frame stream") {
    auto layer = open_layer();
    std::string payload(300, 'x');
    for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>(i);
    auto fed = feed(*layer, client_frame(fin | 2, payload));
    CHECK(fed.verdict.keep_open);
    CHECK(text(fed.up) == payload);
    CHECK(fed.reply.empty());
}

TEST_CASE("a fragmented message with a ping between fragments goes up whole and is ponged") {
    auto layer = open_layer();
    auto wire = client_frame(2, "first ") + client_frame(fin | 0x9, "are you there") +
                client_frame(0, "second ") + client_frame(fin | 0xa, "") +
                client_frame(fin | 0, "third");
    auto fed = feed(*layer, wire);
    CHECK(fed.verdict.keep_open);
    CHECK(text(fed.up) == "first second third");
    auto frames = server_frames(fed.reply);
    REQUIRE(frames.size() == 1);
    CHECK(frames[0].first == (fin | 0xa));
    CHECK(frames[0].payload == "are you there");
}

TEST_CASE("frames split at every byte offset give the same stream and replies") {
    auto wire = buffer(browser_request()) + client_frame(2, "abc") +
                client_frame(fin | 0x9, "ping!") + client_frame(fin, std::string(200, 'm')) +
                client_frame(fin | 2, "") +
                client_frame(fin | 0x8,
                             "\x03\xe8"
                             "bye");
    auto whole = feed(*make_layer(), wire);
    REQUIRE_FALSE(whole.verdict.keep_open);
    CHECK(whole.verdict.reason == "peer closed (websocket 1000)");
    for (std::size_t cut = 0; cut < wire.size(); ++cut) {
        auto layer = make_layer();
        auto first = feed(*layer, Bytes{wire}.first(cut));
        auto second = feed(*layer, Bytes{wire}.subspan(cut));
        REQUIRE(first.verdict.keep_open);
        REQUIRE(first.up + second.up == whole.up);
        REQUIRE(first.reply + second.reply == whole.reply);
        REQUIRE(second.verdict.reason == whole.verdict.reason);
    }
    auto layer = make_layer();
    Fed bytewise;
    for (auto byte : wire) {
        auto fed = feed(*layer, Bytes{&byte, 1});
        bytewise.up = bytewise.up + fed.up;
        bytewise.reply = bytewise.reply + fed.reply;
        bytewise.verdict = fed.verdict;
    }
    CHECK(bytewise.up == whole.up);
    CHECK(bytewise.reply == whole.reply);
}

TEST_CASE("a text message is closed with 1003") {
    auto fed = feed(*open_layer(), client_frame(fin | 1, "hello"));
    CHECK_FALSE(fed.verdict.keep_open);
    CHECK(close_code(fed.reply) == 1003);
    CHECK(server_frames(fed.reply)[0].payload.substr(2) == "binary messages only");
    CHECK(fed.verdict.violation == "sent a WebSocket text message");
    CHECK(fed.up.empty());
}

TEST_CASE("an unmasked frame is closed with 1002") {
    auto fed = feed(*open_layer(), client_frame(fin | 2, "hello", false));
    CHECK(close_code(fed.reply) == 1002);
    CHECK(fed.verdict.violation == "sent an unmasked WebSocket frame");
    CHECK(fed.up.empty());
}

TEST_CASE("frames breaking RFC 6455 section 5 rules are closed with 1002") {
    auto huge = client_frame(fin | 2, std::string(70000, 'h'));
    huge[2] = std::byte{0x80};  // 64-bit length with its top bit set
    const std::vector<std::pair<ByteBuffer, std::string_view>> cases = {
        {client_frame(fin | 0x40 | 2, "x"), "sent a WebSocket frame with RSV bits set"},
        {client_frame(fin | 3, "x"), "sent an unknown WebSocket opcode"},
        {client_frame(fin | 0xb, "x"), "sent an unknown WebSocket opcode"},
        {client_frame(0x9, "x"), "sent a bad WebSocket control frame"},
        {client_frame(fin | 0x9, std::string(126, 'p')), "sent a bad WebSocket control frame"},
        {client_frame(fin | 0, "x"), "broke WebSocket message fragmentation"},
        {client_frame(2, "x") + client_frame(fin | 2, "y"),
         "broke WebSocket message fragmentation"},
        {huge, "sent a WebSocket frame length with the top bit set"},
    };
    for (const auto& [wire, violation] : cases) {
        CAPTURE(violation);
        auto fed = feed(*open_layer(), wire);
        CHECK_FALSE(fed.verdict.keep_open);
        CHECK(close_code(fed.reply) == 1002);
        CHECK(fed.verdict.violation == violation);
    }
}

TEST_CASE("a message over the limit, counted across fragments, is closed with 1009") {
    auto layer = open_layer();  // max_message_bytes 1000
    auto fed = feed(*layer, client_frame(2, std::string(600, 'a')));
    CHECK(fed.verdict.keep_open);
    CHECK(fed.up.size() == 600);
    fed = feed(*layer, client_frame(fin | 0, std::string(401, 'b')));
    CHECK_FALSE(fed.verdict.keep_open);
    CHECK(close_code(fed.reply) == 1009);
    CHECK(fed.up.empty());  // refused from its header, before any payload went up
    CHECK(fed.verdict.violation == "sent a WebSocket message over the size limit");
    CHECK(feed(*open_layer(), client_frame(fin | 2, std::string(1000, 'c'))).verdict.keep_open);
}

TEST_CASE("a close is answered with its code and ends without a violation") {
    auto layer = open_layer();
    auto fed = feed(*layer, client_frame(fin | 0x8,
                                         "\x0f\xa1"
                                         "done") +
                                client_frame(fin | 2, "late"));
    CHECK_FALSE(fed.verdict.keep_open);
    CHECK(fed.verdict.reason == "peer closed (websocket 4001)");
    CHECK(fed.verdict.violation.empty());
    CHECK(close_code(fed.reply) == 4001);
    CHECK(fed.up.empty());  // the frame after the close is ignored
    auto later = feed(*layer, client_frame(fin | 2, "later"));
    CHECK_FALSE(later.verdict.keep_open);
    CHECK((later.up.empty() && later.reply.empty()));
    fed = feed(*open_layer(), client_frame(fin | 0x8, ""));
    CHECK(fed.verdict.reason == "peer closed (websocket 1005)");
    CHECK(close_code(fed.reply) == 1000);
}

TEST_CASE("a close with a bad code or a 1-byte payload is closed with 1002") {
    for (std::string payload : {std::string{"\x03\xed"}, std::string{"\x03\xf7"},
                                std::string{"\x13\x88"}, std::string{"\x03"}}) {
        auto fed = feed(*open_layer(), client_frame(fin | 0x8, payload));
        CHECK(close_code(fed.reply) == 1002);
        CHECK(fed.verdict.violation == "sent a bad WebSocket close frame");
    }
}

TEST_CASE("wrap_out frames lengths 0 125 126 65535 and 65536 with the smallest encoding") {
    auto layer = open_layer();
    for (auto [size, header] :
         {std::pair{125, 2}, std::pair{126, 4}, std::pair{65535, 4}, std::pair{65536, 10}}) {
        CAPTURE(size);
        ByteBuffer wire;
        layer->wrap_out(as_bytes(std::string(size, 'z')), wire);
        REQUIRE(wire.size() == static_cast<std::size_t>(size + header));
        auto frames = server_frames(wire);
        REQUIRE(frames.size() == 1);
        CHECK(frames[0].first == (fin | 2));
        CHECK(frames[0].payload == std::string(size, 'z'));
    }
    ByteBuffer wire;
    layer->wrap_out({}, wire);
    CHECK(wire.empty());
}

TEST_CASE("frames wrapped before the handshake follow the 101 answer") {
    auto layer = make_layer();
    ByteBuffer wire;
    layer->wrap_out(as_bytes("early"), wire);
    CHECK(wire.empty());
    CHECK(layer->held_bytes() > 0);
    auto fed = feed(*layer, browser_request());
    auto head_end = text(fed.reply).find("\r\n\r\n") + 4;
    auto frames = server_frames(ByteBuffer(fed.reply.begin() + head_end, fed.reply.end()));
    REQUIRE(frames.size() == 1);
    CHECK(frames[0].payload == "early");
}

TEST_CASE("say_goodbye sends 1001 once and probe pings only while open") {
    auto fresh = make_layer();
    ByteBuffer wire;
    fresh->probe(wire);
    fresh->say_goodbye(wire);
    CHECK(wire.empty());
    auto layer = open_layer();
    layer->probe(wire);
    CHECK((server_frames(wire).size() == 1 && server_frames(wire)[0].first == (fin | 0x9)));
    wire.clear();
    layer->say_goodbye(wire);
    CHECK(close_code(wire) == 1001);
    layer->say_goodbye(wire);
    layer->probe(wire);
    layer->wrap_out(as_bytes("after"), wire);
    CHECK(server_frames(wire).size() == 1);
}

TEST_CASE("a static page is served to a plain GET and the connection ends") {
    auto options = test_options();
    options.pages = std::make_shared<const StaticPages>(
        StaticPages{{"/chat.html", {"text/html; charset=utf-8", "<p>hi</p>"}}});
    auto fed = feed(*make_layer(options), "GET /chat.html?v=2 HTTP/1.1\r\nHost: a\r\n\r\n");
    CHECK(text(fed.reply) ==
          "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: 9\r\n"
          "Connection: close\r\nCache-Control: no-store\r\n\r\n<p>hi</p>");
    CHECK_FALSE(fed.verdict.keep_open);
    CHECK(fed.verdict.reason == "served page /chat.html");
    CHECK(fed.verdict.violation.empty());
    fed = feed(*make_layer(options), "HEAD /chat.html HTTP/1.1\r\nHost: a\r\n\r\n");
    CHECK(
        text(fed.reply).ends_with("Content-Length: 9\r\nConnection: close\r\n"
                                  "Cache-Control: no-store\r\n\r\n"));
    fed = feed(*make_layer(options), "GET /missing HTTP/1.1\r\nHost: a\r\n\r\n");
    CHECK(text(fed.reply).starts_with("HTTP/1.1 404 "));
    CHECK(fed.verdict.violation.empty());
}

TEST_CASE("an open layer is small and holds nothing beyond itself") {
    CHECK(sizeof(WebSocketLayer) <= 128);
    auto layer = open_layer();
    CHECK(layer->held_bytes() == 0);
    auto ping = client_frame(fin | 0x9, "half a ping");
    CHECK(feed(*layer, Bytes{ping}.first(10)).verdict.keep_open);
    CHECK(layer->held_bytes() == 11);  // a split control frame is kept until its end
    CHECK(server_frames(feed(*layer, Bytes{ping}.subspan(10)).reply)[0].payload == "half a ping");
    CHECK(layer->held_bytes() == 0);
}
