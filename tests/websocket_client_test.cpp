// The client side of WebSocket against the server side, in memory: the client layer's upgrade
// meets WebSocketLayer's checks, and each side's frames must satisfy the other's rules (the
// server refuses unmasked frames, the client masked ones). Then both under TLS.

#include "node/tls_layer.hpp"
#include "node/websocket_client_layer.hpp"
#include "node/websocket_handshake.hpp"
#include "node/websocket_layer.hpp"
#include "tests/support/layer_pump.hpp"
#include "tests/support/test_certs.hpp"

#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

using namespace dinx;
using namespace dinx::node;

namespace {

WebSocketOptions server_options() {
    WebSocketOptions options;
    options.path = "/ws";
    options.allowed_origins = {"https://game.example"};
    return options;
}

WebSocketClientOptions client_options() {
    WebSocketClientOptions options;
    options.host = "game.example:10080";
    options.path = "/ws";
    options.origin = "https://game.example";
    return options;
}

using test::pattern;

// A client layer and a server layer, by default WebSocket over plain bytes.
struct Pair : test::LayerPair {
    using LayerPair::LayerPair;

    explicit Pair(WebSocketClientOptions options = client_options(),
                  WebSocketOptions accepted = server_options())
        : LayerPair(std::make_unique<WebSocketClientLayer>(std::move(options)),
                    std::make_unique<WebSocketLayer>(
                        std::make_shared<const WebSocketOptions>(std::move(accepted)))) {}
};

std::string text(const ByteBuffer& bytes) {
    return std::string{as_text(bytes)};
}

// The upgrade request a fresh client layer sends.
std::string request_of(WebSocketClientLayer& layer) {
    ByteBuffer wire;
    layer.open(wire);
    return text(wire);
}

std::string key_of(const std::string& request) {
    auto head = parse_request_head(request);
    REQUIRE(head);
    return std::string{head->field("Sec-WebSocket-Key").value_or("")};
}

// A 101 answer to `request`, with its accept key, as a gate sends it.
ByteBuffer accepting_answer(const std::string& request) {
    std::string answer =
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Accept: " +
        websocket_accept(key_of(request)) + "\r\n\r\n";
    return {as_bytes(answer).begin(), as_bytes(answer).end()};
}

// A frame a client sent: its first byte and unmasked payload.
struct ClientFrame {
    int first = 0;
    std::string payload;
};

// The frames in `wire`, each of which must be masked.
std::vector<ClientFrame> masked_frames(const ByteBuffer& wire) {
    std::vector<ClientFrame> frames;
    for (std::size_t at = 0; at < wire.size();) {
        REQUIRE(wire.size() - at >= 6);
        auto byte = [&](std::size_t i) { return std::to_integer<std::uint64_t>(wire.at(at + i)); };
        REQUIRE((byte(1) & 0x80) != 0);
        std::uint64_t size = byte(1) & 0x7f;
        std::size_t header = size == 126 ? 4 : size == 127 ? 10 : 2;
        if (header > 2) size = 0;
        for (std::size_t i = 2; i < header; ++i) size = size << 8 | byte(i);
        REQUIRE(wire.size() - at - header - 4 >= size);
        ClientFrame frame{static_cast<int>(byte(0)), {}};
        for (std::size_t i = 0; i < size; ++i)
            frame.payload += static_cast<char>(byte(header + 4 + i) ^ byte(header + i % 4));
        frames.push_back(std::move(frame));
        at += header + 4 + size;
    }
    return frames;
}

// A server frame as WebSocketLayer writes it (unmasked).
ByteBuffer server_frame(std::uint8_t opcode, std::string_view payload) {
    ByteBuffer wire;
    append_websocket_frame(wire, opcode, as_bytes(payload));
    return wire;
}

}  // namespace

TEST_CASE("the client's upgrade request is accepted by the server layer") {
    WebSocketClientLayer layer(client_options());
    auto request = request_of(layer);
    auto head = parse_request_head(request);
    REQUIRE(head);
    CHECK(head->target == "/ws");
    CHECK(head->field("Host") == "game.example:10080");
    CHECK(head->field("Origin") == "https://game.example");
    CHECK(is_websocket_key(key_of(request)));
    CHECK(request_of(layer).empty());  // sent once
    WebSocketClientLayer other(client_options());
    CHECK(key_of(request_of(other)) != key_of(request));

    Pair pair;
    CHECK_FALSE(pair.client.layer->handshake_done());
    pair.pump();
    CHECK(pair.client.layer->handshake_done());
    CHECK(pair.server.layer->handshake_done());
    CHECK_FALSE(pair.client.ended);
    CHECK_FALSE(pair.server.ended);
    CHECK(pair.client.layer->held_bytes() == 0);
}

TEST_CASE("frames both ways split at every byte offset arrive whole") {
    std::string small = "frame one", big = pattern(70000);  // 7-bit and 64-bit lengths
    for (std::size_t chunk = 1; chunk <= 300; ++chunk) {
        CAPTURE(chunk);
        Pair pair;
        Pair::send(pair.client, pair.server, small);  // kept until the 101
        pair.pump(chunk);
        REQUIRE(pair.client.layer->handshake_done());
        Pair::send(pair.client, pair.server, pattern(300));
        Pair::send(pair.server, pair.client, small);
        Pair::send(pair.server, pair.client, pattern(300));
        if (chunk % 50 == 1) Pair::send(pair.server, pair.client, big);
        pair.pump(chunk);
        CHECK(pair.server.got == small + pattern(300));
        CHECK(pair.client.got == small + pattern(300) + (chunk % 50 == 1 ? big : ""));
        CHECK_FALSE(pair.client.ended);
        CHECK_FALSE(pair.server.ended);
    }
}

TEST_CASE("the server's 101 and frames in one read are split at every offset") {
    for (std::size_t cut = 0;; ++cut) {
        CAPTURE(cut);
        WebSocketClientLayer layer(client_options());
        auto wire = accepting_answer(request_of(layer));
        append(wire, server_frame(0x2, "abc"));
        append(wire, server_frame(0x9, "are you there"));
        append(wire, server_frame(0x2, pattern(200)));
        if (cut > wire.size()) break;
        ByteBuffer up, reply;
        CHECK(layer.take_in(Bytes{wire}.first(cut), up, reply).keep_open);
        CHECK(layer.take_in(Bytes{wire}.subspan(cut), up, reply).keep_open);
        CHECK(layer.handshake_done());
        CHECK(text(up) == "abc" + pattern(200));
        auto frames = masked_frames(reply);
        REQUIRE(frames.size() == 1);
        CHECK(frames[0].first == 0x8a);  // FIN, pong
        CHECK(frames[0].payload == "are you there");
    }
}

TEST_CASE("a ping from the server is answered with a pong carrying its payload") {
    Pair pair;
    pair.pump();
    ByteBuffer ping;
    pair.server.layer->probe(ping);  // the gate's keep-alive
    append(ping, server_frame(0x9, "hello?"));
    ByteBuffer up, reply;
    REQUIRE(pair.client.layer->take_in(ping, up, reply).keep_open);
    auto frames = masked_frames(reply);
    REQUIRE(frames.size() == 2);
    CHECK(frames[0].first == 0x8a);
    CHECK(frames[0].payload.empty());
    CHECK(frames[1].first == 0x8a);
    CHECK(frames[1].payload == "hello?");
    // The server layer, which refuses unmasked frames, takes both.
    ByteBuffer server_up, server_reply;
    CHECK(pair.server.layer->take_in(reply, server_up, server_reply).keep_open);
    CHECK(server_reply.empty());
}

TEST_CASE("a client close is echoed by the server and ends both sides") {
    Pair pair;
    pair.pump();
    pair.client.layer->say_goodbye(pair.server.inbox);
    ByteBuffer again;
    pair.client.layer->say_goodbye(again);
    CHECK(again.empty());  // once
    pair.pump();
    REQUIRE(pair.server.ended);
    CHECK(pair.server.ended->reason == "peer closed (websocket 1000)");
    CHECK(pair.server.ended->violation.empty());
    ByteBuffer after;
    pair.client.layer->wrap_out(as_bytes("too late"), after);
    CHECK(after.empty());
}

TEST_CASE("a server close is echoed and ends the client naming its code") {
    Pair pair;
    pair.pump();
    ByteBuffer close;
    pair.server.layer->say_goodbye(close);  // 1001, going away
    ByteBuffer up, reply;
    auto verdict = pair.client.layer->take_in(close, up, reply);
    CHECK_FALSE(verdict.keep_open);
    CHECK(verdict.reason == "server closed (websocket 1001)");
    auto frames = masked_frames(reply);  // the echo carries the server's code, masked
    REQUIRE(frames.size() == 1);
    CHECK(frames[0].first == 0x88);
    CHECK(frames[0].payload == std::string{"\x03\xe9"});
    CHECK(pair.client.layer->handshake_done());
    ByteBuffer more_up, more_reply;
    CHECK_FALSE(pair.client.layer->take_in(server_frame(0x2, "x"), more_up, more_reply).keep_open);
    CHECK(more_up.empty());
    CHECK(more_reply.empty());
}

TEST_CASE("a server answering 403 gives an ending verdict naming it") {
    auto options = client_options();
    options.origin = "https://evil.example";
    Pair pair(options);
    pair.pump();
    REQUIRE(pair.client.ended);
    CHECK(pair.client.ended->reason == "websocket handshake refused: HTTP/1.1 403 Forbidden");
    CHECK_FALSE(pair.client.layer->handshake_done());
    CHECK(pair.server.ended);
}

TEST_CASE("an upgrade of an unknown path is refused with 404") {
    auto options = client_options();
    options.path = "/elsewhere";
    Pair pair(options);
    pair.pump();
    REQUIRE(pair.client.ended);
    CHECK(pair.client.ended->reason == "websocket handshake refused: HTTP/1.1 404 Not Found");
}

TEST_CASE("a 101 with a wrong Sec-WebSocket-Accept is refused and a right one accepted") {
    auto answer = [](const std::string& accept) {
        return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Accept: " +
               accept + "\r\n\r\n";
    };
    WebSocketClientLayer layer(client_options());
    auto key = key_of(request_of(layer));
    ByteBuffer up, reply;
    auto wrong = layer.take_in(as_bytes(answer(websocket_accept(key + "x"))), up, reply);
    CHECK_FALSE(wrong.keep_open);
    CHECK(wrong.reason == "websocket handshake refused: wrong Sec-WebSocket-Accept");
    CHECK_FALSE(layer.handshake_done());
    CHECK(reply.empty());  // not a WebSocket yet: no close frame

    WebSocketClientLayer right(client_options());
    auto right_key = key_of(request_of(right));
    CHECK(right.take_in(as_bytes(answer(websocket_accept(right_key))), up, reply).keep_open);
    CHECK(right.handshake_done());
}

TEST_CASE("an answer without the upgrade fields, or with an extension, is refused") {
    for (std::string_view flaw : {"Upgrade: websocket\r\n", "Connection: Upgrade\r\n", "ext"}) {
        CAPTURE(flaw);
        WebSocketClientLayer layer(client_options());
        auto key = key_of(request_of(layer));
        std::string answer =
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Accept: " +
            websocket_accept(key) + "\r\n\r\n";
        if (flaw == "ext")
            answer.insert(answer.size() - 2, "Sec-WebSocket-Extensions: permessage-deflate\r\n");
        else
            answer.erase(answer.find(flaw), flaw.size());
        ByteBuffer up, reply;
        auto verdict = layer.take_in(as_bytes(answer), up, reply);
        CHECK_FALSE(verdict.keep_open);
        CHECK(verdict.reason.starts_with("websocket handshake refused: "));
    }
}

TEST_CASE("binary bytes or an endless head where the answer belongs are refused") {
    WebSocketClientLayer binary(client_options());
    request_of(binary);
    ByteBuffer up, reply;
    const std::byte tlv[8] = {};
    auto verdict = binary.take_in(tlv, up, reply);
    CHECK_FALSE(verdict.keep_open);
    CHECK(verdict.reason == "websocket handshake refused: the answer is not HTTP");

    WebSocketClientLayer endless(client_options());
    request_of(endless);
    std::string head = "HTTP/1.1 101 Switching Protocols\r\n" + std::string(9000, 'a');
    verdict = endless.take_in(as_bytes(head), up, reply);
    CHECK_FALSE(verdict.keep_open);
    CHECK(verdict.reason == "websocket handshake refused: an answer head over 8192 bytes");
}

TEST_CASE("a text message from the server is closed with 1003 and a masked frame with 1002") {
    for (auto [frame, code] : {std::pair{server_frame(0x1, "hi"), 1003},
                               std::pair{ByteBuffer{std::byte{0x82}, std::byte{0x81}}, 1002}}) {
        Pair pair;
        pair.pump();
        ByteBuffer up, reply;
        auto verdict = pair.client.layer->take_in(frame, up, reply);
        CHECK_FALSE(verdict.keep_open);
        CHECK(verdict.reason.starts_with("websocket closed with " + std::to_string(code)));
        // The close is masked and carries the code: the server layer reads it.
        ByteBuffer server_up, server_reply;
        auto server = pair.server.layer->take_in(reply, server_up, server_reply);
        CHECK(server.reason == "peer closed (websocket " + std::to_string(code) + ")");
    }
}

TEST_CASE("TLS under WebSocket on both sides carries frames both ways") {
    test::TempDir dir{"dinx-ws-client-test"};
    auto cert = test::make_self_signed(dir.path(), "gate");
    auto server_context = TlsContext::server(cert.cert.string(), cert.key.string());
    auto server_layers = stack_layers(std::make_shared<TlsLayerFactory>(server_context),
                                      std::make_shared<WebSocketLayerFactory>(server_options()));
    for (std::size_t chunk : {std::size_t{1}, std::size_t{7}, SIZE_MAX}) {
        CAPTURE(chunk);
        auto client_context = TlsContext::client(cert.cert.string(), "localhost");
        Pair pair(make_client_layer(client_context, client_options()), server_layers->make());
        Pair::send(pair.client, pair.server, "early");  // kept by both layers until ready
        pair.pump(chunk);
        REQUIRE(pair.client.layer->handshake_done());
        CHECK(pair.server.layer->handshake_done());
        CHECK(pair.client.layer->name() == "tls+websocket");
        std::string big = pattern(40000);
        Pair::send(pair.client, pair.server, big);
        Pair::send(pair.server, pair.client, "to the client");
        pair.server.layer->probe(pair.client.inbox);
        pair.pump(chunk);
        CHECK(pair.server.got == "early" + big);
        CHECK(pair.client.got == "to the client");
        pair.client.layer->say_goodbye(pair.server.inbox);
        pair.pump(chunk);
        REQUIRE(pair.server.ended);
        CHECK(pair.server.ended->reason == "peer closed (websocket 1000)");
    }
}

TEST_CASE("a stacked client refuses a certificate its CA file does not hold") {
    test::TempDir dir{"dinx-ws-client-test"};
    auto gate = test::make_self_signed(dir.path(), "gate");
    auto stranger = test::make_self_signed(dir.path(), "stranger");
    auto server_layers = stack_layers(std::make_shared<TlsLayerFactory>(TlsContext::server(
                                          gate.cert.string(), gate.key.string())),
                                      std::make_shared<WebSocketLayerFactory>(server_options()));
    Pair pair(make_client_layer(TlsContext::client(stranger.cert.string(), "localhost"),
                                client_options()),
              server_layers->make());
    pair.pump();
    REQUIRE(pair.client.ended);
    CHECK(pair.client.ended->reason.starts_with("tls handshake failed"));
    CHECK_FALSE(pair.client.layer->handshake_done());
}

TEST_CASE("make_client_layer makes no layer for plain TCP and one per choice") {
    CHECK(make_client_layer(nullptr, std::nullopt) == nullptr);
    CHECK(make_client_layer(nullptr, client_options())->name() == "websocket");
    CHECK(make_client_layer(TlsContext::client("", "localhost"), std::nullopt)->name() == "tls");
}
