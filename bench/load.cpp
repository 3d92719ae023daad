// dinx-load: the load tool. N client connections keep D requests each in flight (closed loop)
// against a gate (or the ceiling echo server), then report round trips/s, latency percentiles,
// and every request that did not come back right: error frames, lost replies, out-of-order
// replies. A good run has all three at 0, and the exit code says so.
//
// Each request's payload starts with its sequence number on the connection and the time it was
// sent, so an echo handler sends back everything the tool needs to check order and latency.
//
// --login PREFIX first logs connection i in as PREFIX<i> (msgID --login-msg-id, 1 by default)
// and waits until each login is answered with that msgID: a gate that refuses some msgIDs to
// guests (the demo's send, broadcast, relay) can then be loaded with them.
//
// --ws PATH and --tls wrap every connection in a client wire layer (WebSocket, TLS, or TLS
// under WebSocket); the handshakes all end before the load starts, and the requests a
// connection queues between two writes leave as one WebSocket message, as a gate sends them.
//
// --idle N opens N connections (spread over source addresses 127.0.0.1..k so that the ephemeral
// ports of one address do not run out), sends one echo on each so that the server really holds
// a session for it, prints "IDLE connected=N", then holds them until SIGINT/SIGTERM.

#include "bench/load_runner.hpp"

#include <CLI/CLI.hpp>

#include <cstdio>

int main(int argc, char** argv) {
    dinx::bench::LoadOptions options;
    CLI::App cli{
        "dinx-load: load generator for dinx gates (zinx TLV clients over TCP, WebSocket or TLS)",
        "dinx-load"};
    cli.add_option("--host", options.host, "server address")->capture_default_str();
    cli.add_option("--port", options.port, "server port")->required();
    cli.add_option("-c,--conns", options.conns, "client connections")->capture_default_str();
    cli.add_option("-d,--depth", options.depth, "requests in flight per connection")
        ->capture_default_str();
    cli.add_option("-s,--size", options.size, "payload bytes (at least 16)")
        ->capture_default_str()
        ->check(CLI::Range(16u, 16u << 20));
    cli.add_option("--msg-id", options.msg_id, "msgID of the echo requests")->capture_default_str();
    cli.add_option("--error-msg-id", options.error_msg_id, "msgID of the server's error frames")
        ->capture_default_str();
    cli.add_option("--warmup", options.warmup_s, "seconds of load before measuring")
        ->capture_default_str();
    cli.add_option("--duration", options.duration_s, "seconds measured")->capture_default_str();
    cli.add_option("--drain", options.drain_s,
                   "seconds to wait for outstanding replies before calling them lost")
        ->capture_default_str();
    cli.add_option("--login", options.login,
                   "log connection i in as PREFIX<i> before anything else")
        ->type_name("PREFIX");
    cli.add_option("--login-msg-id", options.login_msg_id, "msgID of the login requests")
        ->capture_default_str();
    cli.add_option("--idle", options.idle, "hold this many idle connections instead of loading");
    cli.add_option("--sources", options.sources,
                   "source addresses 127.0.0.1..N used by --idle connections")
        ->capture_default_str();
    cli.add_option("--ws", options.ws_path,
                   "speak WebSocket, upgrading on this path (Host is --host:--port)")
        ->type_name("PATH");
    cli.add_flag("--tls", options.tls,
                 "speak TLS (under WebSocket with --ws); the certificate is not verified");
    CLI11_PARSE(cli, argc, argv);
    try {
        return options.idle > 0 ? dinx::bench::run_idle(options) : dinx::bench::run_load(options);
    } catch (const std::exception& error) {
        std::fprintf(stderr, "dinx-load: %s\n", error.what());
        return 2;
    }
}
