// dinx-fanout: room broadcast load. N members connect (round-robin over the given ports, one
// per gate), log in as m<i>, join one room and set K session values, each request awaited;
// then S of them say things to the room, each keeping W says in flight (a say is complete when
// its sender got its own frame back, or with --wait-all when every member got it). It reports
// say frames received across all members per second (the fan-out rate) and says per second,
// and checks that every member got every say (those after the warm-up are counted as lost, the
// warm-up's apart): exit 1 on any loss, error frame, reordering or closed connection.
//
// --hold only connects, logs in and sets the values, prints "ready", and holds the members
// idle until SIGINT/SIGTERM: the memory a gate spends per idle bound player.

#include "bench/fanout_runner.hpp"

#include <CLI/CLI.hpp>

#include <cstdio>

int main(int argc, char** argv) {
    dinx::bench::FanoutOptions options;
    CLI::App cli{"dinx-fanout: room broadcast load for dinx gates (zinx TLV clients)",
                 "dinx-fanout"};
    cli.add_option("--host", options.endpoints.host, "server address")->capture_default_str();
    cli.add_option("--port", options.endpoints.ports,
                   "server port; repeat it to spread members round-robin over gates")
        ->required();
    cli.add_option("--members", options.members, "client connections")->capture_default_str();
    cli.add_option("--room", options.room, "the room every member joins")->capture_default_str();
    cli.add_option("--values", options.values, "session values set per member (msg 12)")
        ->capture_default_str();
    cli.add_option("--value-size", options.value_size, "bytes of each session value")
        ->capture_default_str()
        ->check(CLI::Range(1u, 4096u));
    cli.add_option("--senders", options.senders, "members that say things")->capture_default_str();
    cli.add_option("-w,--window", options.window, "says in flight per sender")
        ->capture_default_str()
        ->check(CLI::Range(1u, 4096u));
    cli.add_option("-s,--size", options.size, "bytes of a say's text (at least 32)")
        ->capture_default_str()
        ->check(CLI::Range(32u, 60000u));
    cli.add_option("--warmup", options.warmup_s, "seconds of says before measuring")
        ->capture_default_str();
    cli.add_option("--duration", options.duration_s, "seconds measured")->capture_default_str();
    cli.add_option("--drain", options.drain_s,
                   "at the end, seconds without any delivery before the missing ones are lost")
        ->capture_default_str();
    cli.add_option("--setup-window", options.setup_window,
                   "login/join/set requests in flight across all members")
        ->capture_default_str()
        ->check(CLI::Range(1u, 1u << 20));
    cli.add_option("--sources", options.endpoints.sources,
                   "source addresses 127.0.0.1..N (for many members)")
        ->capture_default_str();
    cli.add_option("--error-msg-id", options.error_msg_id, "msgID of the server's error frames")
        ->capture_default_str();
    cli.add_flag("--hold", options.hold,
                 "connect, log in, set values, print \"ready\", hold until SIGINT/SIGTERM");
    cli.add_flag("--json", options.json, "print the report as one JSON object");
    cli.add_flag("--wait-all", options.wait_all,
                 "a say is complete when every member got it (default: when its sender got its "
                 "own frame back)");
    CLI11_PARSE(cli, argc, argv);
    try {
        return options.hold ? dinx::bench::run_hold(options) : dinx::bench::run_fanout(options);
    } catch (const std::exception& error) {
        std::fprintf(stderr, "dinx-fanout: %s\n", error.what());
        return 2;
    }
}
