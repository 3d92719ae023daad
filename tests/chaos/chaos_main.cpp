// dinx-chaos: proves that nothing is lost while backends die, freeze and restart.
//
// 2 gates and 3 im nodes run as separate dinx-demo processes with authenticated links. Client
// connections (200 by default) send numbered echo requests continuously, while im nodes are
// SIGKILLed and restarted, SIGSTOPped and SIGCONTed, SIGTERMed (drained) and restarted at random
// moments drawn from a seed that is printed. At the end: every request must have exactly one
// outcome (its reply or an error frame), none twice, each client's in the order it sent them;
// no process may have crashed, and every process's RSS must have stayed under the bound.
//
//   dinx-chaos [--duration 60] [--seed N] [--clients 200] [--depth 2] [--rss-limit-mib 64]

#include "tests/chaos/chaos_clients.hpp"
#include "tests/chaos/chaos_cluster.hpp"

#include <CLI/CLI.hpp>

#include <cstdio>
#include <random>

namespace {

using dinx::chaos::ChaosClients;
using dinx::chaos::ChaosCluster;
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

bool report(const Options& options, const ChaosClients& clients, const ChaosCluster& cluster) {
    auto tally = clients.tally();
    const auto& events = cluster.events();
    std::printf("chaos: seed %u, %.0f s, %d clients x %d in flight, 2 gates, 3 im nodes\n",
                options.seed, options.duration_s, options.clients, options.depth);
    std::printf("chaos done: %d SIGKILL, %d SIGSTOP/SIGCONT, %d SIGTERM, %d restarts\n",
                events.kills, events.stops, events.terms, events.restarts);
    std::printf("every im node killed, stopped or draining at once for %.1f s\n",
                events.all_down.count());
    std::printf("requests sent %llu: replies %llu, error frames %llu",
                static_cast<unsigned long long>(tally.sent),
                static_cast<unsigned long long>(tally.replies),
                static_cast<unsigned long long>(tally.error_total()));
    for (const auto& [code, count] : tally.errors)
        std::printf(" (%s %llu)", code.c_str(), static_cast<unsigned long long>(count));
    std::printf(
        "\nno outcome (lost) %llu, twice %llu, out of order %llu, unexpected frames %llu, "
        "clients disconnected %llu\n",
        static_cast<unsigned long long>(tally.lost),
        static_cast<unsigned long long>(tally.duplicates),
        static_cast<unsigned long long>(tally.out_of_order),
        static_cast<unsigned long long>(tally.unexpected),
        static_cast<unsigned long long>(tally.closed));
    bool rss_ok = true;
    for (const auto& node : cluster.nodes()) {
        bool ok = node.max_rss_kib <= options.rss_limit_mib * 1024;
        rss_ok = rss_ok && ok;
        std::printf("%s: max RSS %.1f MiB (bound %llu MiB)%s\n", node.name.c_str(),
                    node.max_rss_kib / 1024.0,
                    static_cast<unsigned long long>(options.rss_limit_mib), ok ? "" : "  OVER");
    }
    for (const auto& crash : events.crashes) std::printf("crash: %s\n", crash.c_str());
    bool good = tally.replies > 0 && tally.lost == 0 && tally.duplicates == 0 &&
                tally.out_of_order == 0 && tally.unexpected == 0 && tally.closed == 0 &&
                events.crashes.empty() && rss_ok;
    std::printf("%s (seed %u)\n",
                good ? "PASS: every request had exactly one outcome, in order" : "FAIL",
                options.seed);
    return good;
}

}  // namespace

int main(int argc, char** argv) {
    Options options;
    CLI::App cli{"dinx-chaos: nothing is lost while backends die, freeze and restart",
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
        ChaosClients clients(cluster.gate_ports(), options.clients, options.depth, 6, 0xFFFF'FFFF);
        clients.start();
        auto chaos_end = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                            std::chrono::duration<double>(options.duration_s));
        run_until(clients, cluster, chaos_end, true);
        cluster.heal();
        clients.stop_sending();
        // Everything in flight must come to an outcome: a reply, or an error within the
        // bounds of dead-peer detection and dial timeouts.
        run_until(clients, cluster, Clock::now() + 20s, false,
                  [&] { return clients.in_flight() == 0; });
        bool good = report(options, clients, cluster);
        if (!good) std::printf("---- node logs\n%s", cluster.logs().c_str());
        return good ? 0 : 1;
    } catch (const std::exception& error) {
        std::fprintf(stderr, "dinx-chaos: %s\n", error.what());
        return 2;
    }
}
