// TLS as a wire layer, without sockets: a client layer and a server layer pump records to each
// other in memory, whole or split at any offset. Certificates are made at test time.

#include "node/tls_layer.hpp"
#include "tests/support/layer_pump.hpp"
#include "tests/support/test_certs.hpp"

#include <doctest/doctest.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <malloc.h>

#include <cstdint>
#include <fstream>
#include <random>
#include <string>
#include <vector>

using namespace dinx;
using namespace dinx::node;

namespace {

// Two unrelated self-signed certificates for "localhost", made once per test process.
struct Certs {
    test::TempDir dir{"dinx-tls-test"};
    test::TestCert a = test::make_self_signed(dir.path(), "a");
    test::TestCert b = test::make_self_signed(dir.path(), "b");
    std::shared_ptr<TlsContext> server = TlsContext::server(a.cert, a.key);
    std::shared_ptr<TlsContext> client = TlsContext::client("", "localhost");
    // The same server held to TLS 1.2, whose handshake ends on the other side first.
    std::shared_ptr<TlsContext> server12 = [this] {
        auto context = TlsContext::server(a.cert, a.key);
        SSL_CTX_set_max_proto_version(context->native(), TLS1_2_VERSION);
        return context;
    }();
};

const Certs& certs() {
    static Certs made;
    return made;
}

using Side = test::LayerEnd;
using test::deliver;
using test::pattern;

// TLS on both ends, the client's ClientHello already in the server's inbox.
struct Pair : test::LayerPair {
    explicit Pair(std::shared_ptr<TlsContext> client_context = certs().client,
                  std::shared_ptr<TlsContext> server_context = certs().server)
        : LayerPair(std::make_unique<TlsLayer>(std::move(client_context), TlsRole::client),
                    std::make_unique<TlsLayer>(std::move(server_context), TlsRole::server)) {}
};

}  // namespace

TEST_CASE("a client and a server layer complete the TLS handshake in memory") {
    Pair pair;
    CHECK_FALSE(pair.server.layer->handshake_done());
    pair.pump();
    CHECK(pair.client.layer->handshake_done());
    CHECK(pair.server.layer->handshake_done());
    CHECK_FALSE(pair.client.ended);
    CHECK_FALSE(pair.server.ended);
    CHECK(pair.server.layer->name() == "tls");
    CHECK(ERR_peek_error() == 0);
}

TEST_CASE("a TLS handshake and data fed one byte at a time arrive whole") {
    for (auto& server : {certs().server, certs().server12}) {
        Pair pair(certs().client, server);
        pair.pump(1);
        REQUIRE(pair.server.layer->handshake_done());
        Pair::send(pair.client, pair.server, "hello server");
        Pair::send(pair.server, pair.client, "hello client");
        pair.pump(1);
        CHECK(pair.server.got == "hello server");
        CHECK(pair.client.got == "hello client");
    }
}

TEST_CASE("small and 1 MiB TLS writes arrive whole both ways, split at odd offsets") {
    Pair pair;
    pair.pump();
    std::string big = pattern(1 << 20);
    Pair::send(pair.client, pair.server, "ping");
    Pair::send(pair.client, pair.server, big);
    Pair::send(pair.server, pair.client, big);
    Pair::send(pair.server, pair.client, "pong");
    pair.pump(4093);
    CHECK(pair.server.got == "ping" + big);
    CHECK(pair.client.got == big + "pong");
    CHECK_FALSE(pair.server.ended);
}

TEST_CASE("bytes wrapped before the TLS handshake completes are delivered after it") {
    for (auto& context : {certs().server, certs().server12}) {
        Side client, server;
        client.layer = std::make_unique<TlsLayer>(certs().client, TlsRole::client);
        server.layer = std::make_unique<TlsLayer>(context, TlsRole::server);
        // No start(): the client's first wrap_out starts the handshake and keeps the bytes.
        ByteBuffer wire;
        client.layer->wrap_out(as_bytes("early from client"), wire);
        CHECK_FALSE(wire.empty());  // the ClientHello
        append(server.inbox, wire);
        deliver(server, client, SIZE_MAX);
        wire.clear();
        server.layer->wrap_out(as_bytes("early from server"), wire);
        CHECK(wire.empty());  // kept until the client's Finished arrives
        while (deliver(server, client, SIZE_MAX) | deliver(client, server, SIZE_MAX)) {
        }
        CHECK(server.got == "early from client");
        CHECK(client.got == "early from server");
    }
}

TEST_CASE("a close_notify from either side ends the other with peer closed (tls)") {
    for (int round = 0; round < 4; ++round) {
        bool client_first = round % 2 == 0;
        CAPTURE(round);
        Pair pair(certs().client, round < 2 ? certs().server : certs().server12);
        pair.pump();
        Side& first = client_first ? pair.client : pair.server;
        Side& second = client_first ? pair.server : pair.client;
        ByteBuffer wire;
        first.layer->say_goodbye(wire);
        REQUIRE_FALSE(wire.empty());
        append(second.inbox, wire);
        pair.pump();
        REQUIRE(second.ended);
        CHECK(second.ended->reason == "peer closed (tls)");
        CHECK(second.ended->violation.empty());
        // The answering close_notify ends the first side the same way.
        REQUIRE(first.ended);
        CHECK(first.ended->reason == "peer closed (tls)");
        CHECK(first.ended->violation.empty());
    }
}

TEST_CASE("garbage instead of a TLS ClientHello ends the server with a handshake violation") {
    for (std::string_view garbage : {std::string_view("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
                                     std::string_view("\x16\x03\x01\xff\xff garbage")}) {
        TlsLayer server(certs().server, TlsRole::server);
        ByteBuffer up, reply;
        LayerVerdict verdict = server.take_in(as_bytes(garbage), up, reply);
        CHECK_FALSE(verdict.keep_open);
        CHECK(verdict.reason.starts_with("tls handshake failed: "));
        CHECK(verdict.violation == "failed the TLS handshake");
        CHECK(up.empty());
        CHECK(ERR_peek_error() == 0);
        // Bytes after the end change nothing.
        CHECK_FALSE(server.take_in(as_bytes(garbage), up, reply).keep_open);
    }
}

TEST_CASE("garbage records after the TLS handshake end the connection with a violation") {
    Pair pair;
    pair.pump();
    ByteBuffer up, reply;
    using namespace std::string_view_literals;
    LayerVerdict verdict = pair.server.layer->take_in(
        as_bytes("\x17\x03\x03\x00\x15twenty-one bytes long"sv), up, reply);
    CHECK_FALSE(verdict.keep_open);
    CHECK(verdict.reason.starts_with("tls error: "));
    CHECK(verdict.violation == "sent bad TLS records");
    CHECK_FALSE(reply.empty());  // a fatal alert
    // A failed connection's error does not show up on the next one.
    Pair next;
    next.pump();
    CHECK(next.server.layer->handshake_done());
}

TEST_CASE("random and mutated TLS bytes split at random offsets never throw out of a layer") {
    std::mt19937 random(7);
    for (int round = 0; round < 300; ++round) {
        Pair pair;  // the server's inbox holds the ClientHello
        ByteBuffer& inbox = pair.server.inbox;
        if (round % 3 == 0) {
            for (int flip = 0; flip < 3; ++flip)
                inbox[random() % inbox.size()] ^= std::byte(1 + random() % 255);
        } else {
            if (round % 3 == 1) inbox.clear();  // noise instead of a ClientHello
            if (round % 3 == 2) pair.pump();    // noise after the handshake
            ByteBuffer noise(1 + random() % 3000);
            for (auto& byte : noise) byte = std::byte(random());
            noise[0] = std::byte(round % 2 ? 0x16 : 0x17);  // a handshake or data record type
            append(inbox, noise);
        }
        CHECK_NOTHROW(pair.pump(1 + random() % 700));
        CHECK(ERR_peek_error() == 0);
    }
}

TEST_CASE("a TLS client verifying against the wrong CA or name fails the handshake") {
    const Certs& c = certs();
    Pair wrong_ca(TlsContext::client(c.b.cert, "localhost"));
    wrong_ca.pump();
    REQUIRE(wrong_ca.client.ended);
    CHECK(wrong_ca.client.ended->reason.find("certificate verify failed") != std::string::npos);
    CHECK(wrong_ca.client.ended->violation == "failed the TLS handshake");
    REQUIRE(wrong_ca.server.ended);  // the client's alert ends the server too
    CHECK(wrong_ca.server.ended->reason.starts_with("tls handshake failed: "));

    Pair wrong_name(TlsContext::client(c.a.cert, "example.com"));
    wrong_name.pump();
    REQUIRE(wrong_name.client.ended);
    CHECK(wrong_name.client.ended->reason.find("hostname mismatch") != std::string::npos);

    Pair wrong_ip(TlsContext::client(c.a.cert, "127.0.0.1"));
    wrong_ip.pump();
    REQUIRE(wrong_ip.client.ended);
    CHECK(wrong_ip.client.ended->reason.find("IP address mismatch") != std::string::npos);

    Pair right(TlsContext::client(c.a.cert, "localhost"));
    right.pump();
    CHECK(right.client.layer->handshake_done());
    CHECK(right.server.layer->handshake_done());
}

TEST_CASE("TlsContext refuses missing, non-PEM and mismatched files naming the path") {
    const Certs& c = certs();
    auto message = [](auto make) -> std::string {
        try {
            make();
        } catch (const TlsError& error) {
            return error.what();
        }
        return "no error";
    };
    auto missing = c.dir.path() / "missing.pem";
    auto text = c.dir.path() / "text.pem";
    std::ofstream(text) << "this is not a certificate\n";

    CHECK(message([&] { TlsContext::server(missing, c.a.key); }) ==
          "tls certificate " + missing.string() + ": cannot be read: No such file or directory");
    CHECK(message([&] { TlsContext::server(c.dir.path(), c.a.key); }) ==
          "tls certificate " + c.dir.path().string() + ": cannot be read: not a regular file");
    CHECK(message([&] {
              TlsContext::server(text, c.a.key);
          }).starts_with("tls certificate " + text.string() + ": is not a PEM certificate: "));
    CHECK(message([&] { TlsContext::server(c.a.cert, missing); }) ==
          "tls key " + missing.string() + ": cannot be read: No such file or directory");
    CHECK(message([&] {
              TlsContext::server(c.a.cert, text);
          }).starts_with("tls key " + text.string() + ": is not a PEM private key: "));
    CHECK(message([&] { TlsContext::server(c.a.cert, c.b.key); }) ==
          "tls key " + c.b.key.string() + " does not match the certificate " + c.a.cert.string());
    auto locked = test::make_self_signed(c.dir.path(), "locked", "localhost", "secret");
    CHECK(message([&] { TlsContext::server(locked.cert, locked.key); }) ==
          "tls key " + locked.key.string() + ": is encrypted, and pass phrases are not supported");
    CHECK(message([&] { TlsContext::client(missing, "localhost"); }) ==
          "tls ca file " + missing.string() + ": cannot be read: No such file or directory");
    CHECK(message([&] {
              TlsContext::client(text, "localhost");
          }).starts_with("tls ca file " + text.string() + ": holds no PEM certificate: "));
    CHECK(ERR_peek_error() == 0);
}

namespace {

// Bytes glibc's malloc hands out now, chunk headers included.
[[maybe_unused]] std::int64_t heap_in_use() {
    struct mallinfo2 info = mallinfo2();
    return std::int64_t(info.uordblks + info.hblkhd);
}

}  // namespace

TEST_CASE("an idle handshaken TLS server connection holds little memory") {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    MESSAGE("sanitizers replace malloc: nothing to measure");
#else
    constexpr int count = 1000;
    Pair warm_up;  // OpenSSL fetches its algorithms once per context
    warm_up.pump();
    using Layer = std::unique_ptr<WireLayer>;
    std::vector<Layer> servers;
    servers.reserve(count);
    std::int64_t before = heap_in_use();
    for (int i = 0; i < count; ++i) {
        Pair pair;
        pair.pump();
        Pair::send(pair.client, pair.server, "hello");
        Pair::send(pair.server, pair.client, "welcome");
        pair.pump();
        REQUIRE(pair.client.got == "welcome");
        servers.push_back(std::move(pair.server.layer));
    }
    std::int64_t idle = (heap_in_use() - before) / count;

    // Mid-handshake: the server answered the ClientHello and waits for the client's Finished.
    before = heap_in_use();
    std::vector<Pair> halfway(count);
    std::int64_t started = (heap_in_use() - before) / count;
    before = heap_in_use();
    for (auto& pair : halfway) deliver(pair.server, pair.client, SIZE_MAX);
    std::int64_t answered = (heap_in_use() - before) / count;

    MESSAGE("idle TLS server connection after its handshake: "
            << idle << " bytes (held_bytes() " << servers.front()->held_bytes()
            << "); a started client and a new server: " << started
            << " bytes; the server's answer to the ClientHello adds " << answered
            << " bytes (held_bytes() " << halfway.front().server.layer->held_bytes() << ")");
    CHECK(idle < 48 * 1024);
#endif
}
