// dinx-chaos: proves that nothing is lost while backends and gates die, freeze and restart.
//
// 2 gates and 3 im nodes run as separate dinx-demo processes with authenticated links. Client
// connections (200 by default) log in (the demo relays for players only), then keep numbered
// requests in flight, echo (msgID 6, answered by the im node the gate picked) and relay (msgID 5,
// forwarded to another im node, which answers) alternately, while at random moments drawn from a
// seed that is printed: im nodes are SIGKILLed and restarted, SIGSTOPped and SIGCONTed, SIGTERMed
// (drained) and restarted; a gate is SIGKILLed and restarted (never both gates at once). The
// clients of a killed gate are cut: the requests they had in flight may never have an outcome, so
// they are counted apart as cut, and each client reconnects to that gate once it listens again,
// numbering its requests afresh. At the end: every other request must have exactly one outcome (its
// reply or an error frame), none twice, each client's echoes in the order sent (relays are counted
// when reordered: dinx pins a client's requests to one node, not what a handler forwards); no
// connection may close unless its gate was killed, every cut client must have reconnected, no
// process may have crashed, and every process's RSS must have stayed under the bound.
//
//   dinx-chaos [--duration 60] [--seed N] [--clients 200] [--depth 2] [--rss-limit-mib 64]

#include "tests/chaos/chaos_clients.hpp"
#include "tests/chaos/chaos_cluster.hpp"

#include <CLI/CLI.hpp>

#include <cstdio>
#include <functional>
#include <map>
#include <random>
#include <string>

namespace {

using dinx::chaos::ChaosClients;
using dinx::chaos::ChaosCluster;
using dinx::chaos::ChaosEvents;
using dinx::chaos::ClientMsgIds;
using dinx::chaos::ClientTally;
using dinx::chaos::Clock;
using namespace std::chrono_literals;

struct Options {
    double duration_s = 60;
    std::uint32_t seed = std::random_device{}();
    int clients = 200;
    int depth = 2;
    int heartbeat_ms = 500;
    std::uint64_t rss_limit_mib = 64;
    std::string demo = DINX_DEMO_PATH;
};

// Runs the clients until `until` while the cluster does what is due.
void run_until(
    ChaosClients& clients, ChaosCluster& cluster, Clock::time_point until, bool chaos,
    const std::function<bool()>& done = [] { return false; }) {
    auto next_sample = Clock::now();
    while (Clock::now() < until && !done()) {
        clients.poll(5);
        auto now = Clock::now();
        if (chaos) cluster.step(now);
        if (now >= next_sample) {
            cluster.sample();
            next_sample = now + 200ms;
        }
    }
}

std::string per_code(const std::map<std::string, std::uint64_t>& errors) {
    std::string text;
    for (const auto& [code, count] : errors)
        text += " (" + code + " " + std::to_string(count) + ")";
    return text;
}

void report_chaos(const Options& options, const ChaosEvents& events) {
    std::printf("chaos: seed %u, %.0f s, %d clients x %d in flight, 2 gates, 3 im nodes\n",
                options.seed, options.duration_s, options.clients, options.depth);
    std::printf(
        "chaos done: im nodes %d SIGKILL, %d SIGSTOP/SIGCONT, %d SIGTERM; gates %d SIGKILL; "
        "%d restarts\n",
        events.kills, events.stops, events.terms, events.gate_kills, events.restarts);
    std::printf(
        "every im node killed, stopped or draining at once for %.1f s; a gate dead for %.1f s\n",
        events.all_down.count(), events.gate_down.count());
}

void report_requests(const ClientTally& tally) {
    auto n = [](std::uint64_t count) { return static_cast<unsigned long long>(count); };
    std::printf("requests sent %llu: replies %llu (relay %llu), error frames %llu%s\n",
                n(tally.sent), n(tally.replies), n(tally.relay_replies), n(tally.error_total()),
                per_code(tally.errors).c_str());
    std::printf("logged in: %llu connections\n", n(tally.logins));
    std::printf(
        "cut by a gate kill: %llu connections, %llu requests in flight; %llu reconnected, %llu "
        "could not\n",
        n(tally.cut_connections), n(tally.cut), n(tally.reconnects), n(tally.reconnect_failures));
    std::printf(
        "no outcome (lost) %llu, twice %llu, out of order %llu, unexpected frames %llu, "
        "clients disconnected %llu\n",
        n(tally.lost), n(tally.duplicates), n(tally.out_of_order), n(tally.unexpected),
        n(tally.closed));
    std::printf(
        "allowed: outcomes that passed an older request of the other msgID %llu, relays answered "
        "out of order %llu (forwarded requests are not pinned)\n",
        n(tally.overtaken), n(tally.relays_reordered));
}

// Prints each process's peak RSS; true when all are within the bound.
bool report_rss(const Options& options, const ChaosCluster& cluster) {
    bool rss_ok = true;
    for (const auto& node : cluster.nodes()) {
        bool ok = node.max_rss_kib <= options.rss_limit_mib * 1024;
        rss_ok = rss_ok && ok;
        std::printf("%s: max RSS %.1f MiB (bound %llu MiB)%s\n", node.name.c_str(),
                    node.max_rss_kib / 1024.0,
                    static_cast<unsigned long long>(options.rss_limit_mib), ok ? "" : "  OVER");
    }
    return rss_ok;
}

bool report(const Options& options, const ChaosClients& clients, const ChaosCluster& cluster) {
    auto tally = clients.tally();
    const auto& events = cluster.events();
    report_chaos(options, events);
    report_requests(tally);
    bool rss_ok = report_rss(options, cluster);
    for (const auto& crash : events.crashes) std::printf("crash: %s\n", crash.c_str());
    // Cut requests are allowed: their gate died with them, so nobody can tell their outcome.
    // Every connection logs in before it relays: an unauthenticated relay is a lost login.
    bool good = tally.replies > 0 && tally.relay_replies > 0 && tally.lost == 0 &&
                tally.logins > 0 && tally.errors.count("unauthenticated") == 0 &&
                tally.duplicates == 0 && tally.out_of_order == 0 && tally.unexpected == 0 &&
                tally.closed == 0 && tally.reconnect_failures == 0 && events.crashes.empty() &&
                rss_ok;
    std::printf(
        "%s (seed %u)\n",
        good ? "PASS: every request not cut had exactly one outcome, echoes in order" : "FAIL",
        options.seed);
    return good;
}

}  // namespace

int main(int argc, char** argv) {
    Options options;
    CLI::App cli{"dinx-chaos: nothing is lost while backends and gates die, freeze and restart",
                 "dinx-chaos"};
    cli.add_option("--duration", options.duration_s, "seconds of chaos")->capture_default_str();
    cli.add_option("--seed", options.seed, "seed of the random chaos (printed; default random)");
    cli.add_option("--clients", options.clients, "client connections")->capture_default_str();
    cli.add_option("--depth", options.depth, "requests in flight per client")
        ->capture_default_str();
    cli.add_option("--heartbeat-ms", options.heartbeat_ms, "heartbeat_interval_ms of the nodes")
        ->capture_default_str();
    cli.add_option("--rss-limit-mib", options.rss_limit_mib, "bound on every process's RSS")
        ->capture_default_str();
    cli.add_option("--demo", options.demo, "the dinx-demo executable")->capture_default_str();
    CLI11_PARSE(cli, argc, argv);
    std::printf("chaos: seed %u (rerun with --seed %u)\n", options.seed, options.seed);
    std::fflush(stdout);
    try {
        dinx::test::TempDir dir("dinx-chaos-");
        ChaosCluster cluster(options.demo, dir.path(), options.seed, options.heartbeat_ms);
        ChaosClients clients(cluster.gate_ports(), options.clients, options.depth,
                             ClientMsgIds{.echo = 6, .relay = 5, .login = 1, .error = 0xFFFF'FFFF});
        cluster.on_gate_kill([&clients](std::uint16_t port) { clients.gate_killed(port); });
        clients.start();
        auto chaos_end = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                            std::chrono::duration<double>(options.duration_s));
        run_until(clients, cluster, chaos_end, true);
        cluster.heal();
        clients.stop_sending();
        // Everything in flight must come to an outcome: a reply, or an error within the
        // bounds of dead-peer detection and dial timeouts; and the cut clients must be back.
        run_until(clients, cluster, Clock::now() + 20s, false, [&] { return clients.settled(); });
        bool good = report(options, clients, cluster);
        if (!good) std::printf("---- node logs\n%s", cluster.logs().c_str());
        return good ? 0 : 1;
    } catch (const std::exception& error) {
        std::fprintf(stderr, "dinx-chaos: %s\n", error.what());
        return 2;
    }
}
