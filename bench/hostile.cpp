// dinx-hostile: what an attacker does to a gate, from plain sockets, for the tests and the
// benchmarks of issue 7. Each mode runs `--clients` connections for `--duration` seconds and
// reconnects a connection the gate cut (counting it). It prints a line once its first
// connections are open, and a summary at the end:
//
//   HOSTILE connected=<n>
//   HOSTILE mode=<mode> connections=<opened> cuts=<closed by the server> sent_bytes=<n>
//
//   pipeline   sends requests of --size bytes (msgID --msg-id) as fast as the gate takes them,
//              and never reads a reply
//   readless   connects with a tiny receive buffer, sends one frame (--msg-id, empty), then
//              never reads: a player whose device stopped reading
//   broadcast  sends broadcasts of --size bytes (msgID --msg-id) one after another, each once
//              its own copy came back, reading everything
//   silent     connects and sends nothing
//   trickle    sends a frame header announcing --size bytes, then one byte per second
//   preauth    on a link port: a hello header announcing --size bytes, then the bytes
//
// --login PREFIX makes each pipeline, readless and broadcast connection send a login (msgID 1,
// PREFIX<n>, n counting the connections opened) before its first frame, without waiting for
// the answer: the demo refuses broadcasts and its send and relay messages to guests.
//
//   dinx-hostile --port P --mode pipeline --clients 4 --size 65536 --msg-id 6 --duration 5

#include "bench/hostile_clients.hpp"

#include <CLI/CLI.hpp>

#include <csignal>
#include <cstdio>

int main(int argc, char** argv) {
    dinx::bench::HostileOptions options;
    CLI::App cli{"dinx-hostile: attacks a gate the way hostile clients do", "dinx-hostile"};
    cli.add_option("--host", options.host)->capture_default_str();
    cli.add_option("--port", options.port, "the gate's client port (link port for preauth)")
        ->required();
    cli.add_option("--mode", options.mode,
                   "pipeline, readless, broadcast, silent, trickle, preauth")
        ->required()
        ->check(
            CLI::IsMember({"pipeline", "readless", "broadcast", "silent", "trickle", "preauth"}));
    cli.add_option("--clients", options.clients, "connections")->capture_default_str();
    cli.add_option("--size", options.size, "payload bytes")->capture_default_str();
    cli.add_option("--msg-id", options.msg_id, "msgID of what is sent")->capture_default_str();
    cli.add_option("--duration", options.duration_s, "seconds (0: until SIGTERM)")
        ->capture_default_str();
    cli.add_option("--login", options.login,
                   "pipeline, readless, broadcast: log in as PREFIX<n> first (msgID 1)")
        ->type_name("PREFIX");
    CLI11_PARSE(cli, argc, argv);
    std::signal(SIGPIPE, SIG_IGN);
    return dinx::bench::run_hostile(options);
}
