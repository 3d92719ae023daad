// Tests of the client listeners of dinx.toml (`[[gate.listeners]]`): what is read, and every
// mistake pinned to the line the user has to fix.
//
// Inline TOML uses raw strings that start with a newline, so the first TOML line is line 2.
#include "dict/config.hpp"
#include "dict/config_loader.hpp"
#include "tests/support/test_configs.hpp"

#include <doctest/doctest.h>

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

using dinx::dict::Config;
using dinx::dict::ConfigError;
using dinx::dict::ListenerProtocol;
using dinx::dict::load_config;
using dinx::dict::parse_config;
using dinx::test::expect_error;
using dinx::test::gate_routes;
using dinx::test::has;
using dinx::test::one_gate;

namespace {

namespace fs = std::filesystem;

/// One gate (lines 2-8) whose listeners follow, and one im node after them.
std::string gate_with(std::string_view listeners) {
    std::string text(one_gate);
    text.insert(text.find("\n[[im]]"), listeners);
    return text;
}

}  // namespace

TEST_CASE("a gate's listeners are read in order with their defaults") {
    Config config = parse_config(gate_with(R"(
[[gate.listeners]]
port = 10080
protocol = "websocket"
path = "/ws"
origins = ["https://game.example", "http://127.0.0.1:10080"]
subprotocol = "dinx"

[[gate.listeners]]
port = 10001
framing = "ltv"
)"),
                                 gate_routes);
    const auto& gate = config.nodes.at(0);
    REQUIRE(gate.listeners.size() == 2);
    const auto& ws = gate.listeners[0];
    CHECK(ws.protocol == ListenerProtocol::websocket);
    CHECK(ws.port == 10080);
    CHECK(ws.path == "/ws");
    CHECK(ws.origins.size() == 2);
    CHECK(ws.subprotocol == "dinx");
    CHECK(ws.framing == "tlv");
    CHECK_FALSE(ws.uses_tls());
    CHECK(ws.line == 10);
    CHECK(ws.port_line == 11);
    const auto& tcp = gate.listeners[1];
    CHECK(tcp.protocol == ListenerProtocol::tcp);
    CHECK(tcp.framing == "ltv");
    CHECK(tcp.framing_line == 19);
    CHECK(config.nodes.at(1).listeners.empty());
}

TEST_CASE("listener mistakes name their line") {
    SUBCASE("an unknown key") {
        auto err = expect_error(gate_with("\n[[gate.listeners]]\nport = 1\nprot = 2\n"));
        CHECK(err.line() == 12);
        CHECK(has(err, "unknown key 'prot' in a listener of 'gate-1'"));
    }
    SUBCASE("a protocol that does not exist") {
        auto err = expect_error(gate_with("\n[[gate.listeners]]\nport = 1\nprotocol = \"ws\"\n"));
        CHECK(err.line() == 12);
        CHECK(has(err, R"('protocol' must be "tcp" or "websocket")"));
    }
    SUBCASE("a WebSocket key on a TCP listener") {
        auto err = expect_error(gate_with("\n[[gate.listeners]]\nport = 1\npath = \"/ws\"\n"));
        CHECK(err.line() == 12);
        CHECK(has(err, "'path' is only for protocol = \"websocket\""));
    }
    SUBCASE("a path without its slash") {
        auto err = expect_error(
            gate_with("\n[[gate.listeners]]\nport = 1\nprotocol = \"websocket\"\npath = \"ws\"\n"));
        CHECK(err.line() == 13);
        CHECK(has(err, "'path' must start with '/'"));
    }
    SUBCASE("a certificate without its key") {
        auto err =
            expect_error(gate_with("\n[[gate.listeners]]\nport = 1\ntls_cert = \"c.pem\"\n"));
        CHECK(err.line() == 12);
        CHECK(has(err, "'tls_cert' and 'tls_key' go together"));
    }
    SUBCASE("origins that are not strings") {
        auto err = expect_error(
            gate_with("\n[[gate.listeners]]\nport = 1\nprotocol = \"websocket\"\norigins = [1]\n"));
        CHECK(err.line() == 13);
        CHECK(has(err, "'origins' must be an array of origins"));
    }
    SUBCASE("a port another node or listener takes") {
        auto err = expect_error(gate_with("\n[[gate.listeners]]\nport = 10100\n"));
        CHECK(err.line() == 11);
        CHECK(has(err, "listener port 10100 of node 'gate-1' is already used by node 'gate-1'"));
        err = expect_error(gate_with("\n[[gate.listeners]]\nport = 10000\n"));
        CHECK(err.line() == 11);
        // A node after the gate that wants the listener's port is told whose it is.
        err = expect_error(gate_with("\n[[gate.listeners]]\nport = 20000\n"));
        CHECK(has(err,
                  "duplicate host:port 127.0.0.1:20000 of node 'im-1', already used by "
                  "node 'gate-1'"));
    }
    SUBCASE("listeners on a backend") {
        std::string nodes = gate_with("") + "\n[[im.listeners]]\nport = 1\n";
        auto err = expect_error(nodes);
        CHECK(has(err, "'listeners' is only for frontend nodes; backend 'im-1'"));
    }
}

TEST_CASE("listener files are resolved against the conf dir and must be readable") {
    std::string pattern = (fs::temp_directory_path() / "dinx_listeners_XXXXXX").string();
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    fs::path dir = pattern;
    auto write = [&](const std::string& name, std::string_view text) {
        std::ofstream(dir / name) << text;
    };
    write("route.toml", gate_routes);
    fs::create_directory(dir / "web");
    write("cert.pem", "not checked here: OpenSSL reads it when the node starts");
    write("key.pem", "likewise");

    write("dinx.toml", gate_with("\n[[gate.listeners]]\nport = 1\nprotocol = \"websocket\"\n"
                                 "web_root = \"web\"\ntls_cert = \"cert.pem\"\n"
                                 "tls_key = \"key.pem\"\n"));
    Config config = load_config(dir);
    const auto& listener = config.nodes.at(0).listeners.at(0);
    CHECK(listener.tls_cert_path == (dir / "cert.pem").string());
    CHECK(listener.tls_key_path == (dir / "key.pem").string());
    CHECK(listener.web_root_path == (dir / "web").string());

    write("dinx.toml", gate_with("\n[[gate.listeners]]\nport = 1\ntls_cert = \"missing.pem\"\n"
                                 "tls_key = \"key.pem\"\n"));
    try {
        load_config(dir);
        FAIL("a missing certificate was accepted");
    } catch (const ConfigError& err) {
        CHECK(err.line() == 12);
        CHECK(has(err, "tls_cert 'missing.pem': cannot read file"));
    }

    write("dinx.toml", gate_with("\n[[gate.listeners]]\nport = 1\nprotocol = \"websocket\"\n"
                                 "web_root = \"cert.pem\"\n"));
    try {
        load_config(dir);
        FAIL("a web root that is a file was accepted");
    } catch (const ConfigError& err) {
        CHECK(err.line() == 10);
        CHECK(has(err, "web_root 'cert.pem' is not a directory"));
    }
    fs::remove_all(dir);
}
