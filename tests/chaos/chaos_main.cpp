// dinx-chaos: proves that nothing is lost while backends and gates die, freeze and restart.
//
// 2 gates, 3 im nodes and the demo's services (account-1, rank-1, rank-2) run as separate
// dinx-demo processes with authenticated links. Client connections (200 by default) log in (the
// demo relays for players only), then keep numbered requests in flight: echo (msgID 6, answered
// by the im node the gate picked) and relay (msgID 5, forwarded to another im node, which
// answers), and one request in three calls the services from a coroutine handler on the gate:
// sign in (14, binds the client's uid "c<N>", calls account, then the player's rank node), score
// (15, once the connection signed in: calls the player's rank node) and leaderboard (16: calls
// every rank node, and always replies, naming the nodes that failed). Meanwhile, at random
// moments drawn from a seed that is printed, backends (im, account and rank nodes) are
// SIGKILLed and restarted, SIGSTOPped and SIGCONTed (a stop longer than the demo's 2 s call
// timeout fails the calls to it with deadline_exceeded), SIGTERMed (drained) and restarted; a
// gate is SIGKILLed and restarted (never both gates at once). The clients of a killed gate are
// cut: the requests they had in flight may never have an outcome, so they are counted apart as
// cut, and each client reconnects to that gate once it listens again, numbering its requests
// afresh. At the end: every other request must have exactly one outcome (its reply or an error
// frame), none twice, none without one past --answer-deadline, each client's echoes in the order
// sent and so its sign ins, scores and leaderboards (the gate runs them one at a time; relays
// are counted when reordered: dinx pins a client's requests to one node, not what a handler
// forwards); no leaderboard may be an error frame; no connection may close unless its gate was
// killed, every cut client must have reconnected, no process may have crashed, and every
// process's RSS must have stayed under the bound.
//
//   dinx-chaos [--duration 60] [--seed N] [--clients 200] [--depth 2] [--rss-limit-mib 64]
//              [--answer-deadline 15]

#include "tests/chaos/chaos_clients.hpp"
#include "tests/chaos/chaos_cluster.hpp"

#include <CLI/CLI.hpp>

#include <algorithm>
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
using dinx::chaos::RequestKind;
using namespace std::chrono_literals;

struct Options {
    double duration_s = 60;
    std::uint32_t seed = std::random_device{}();
    int clients = 200;
    int depth = 2;
    // A node silent for 2.5 heartbeats is declared dead: at 1000 ms that is after the demo's
    // 2 s call timeout, so a call to a SIGSTOPped account or rank node can end at its deadline
    // (and the callee's reply come after it), not only when its link is dropped.
    int heartbeat_ms = 1000;
    std::uint64_t rss_limit_mib = 64;
    // Longer than anything dinx may take to answer: the demo's calls time out after 2 s (and a
    // request may wait behind one of its client's), a stopped node is declared dead after 2.5
    // heartbeats, and a SIGTERMed one drains for up to 2 s.
    double answer_deadline_s = 15;
    std::string demo = DINX_DEMO_PATH;
    bool show_logs = false;  // the node logs even when the run passes
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
    std::printf(
        "chaos: seed %u, %.0f s, %d clients x %d in flight, 2 gates, 3 im nodes, account-1, "
        "rank-1, rank-2\n",
        options.seed, options.duration_s, options.clients, options.depth);
    std::printf(
        "chaos done: backends %d SIGKILL, %d SIGSTOP/SIGCONT, %d SIGTERM; gates %d SIGKILL; "
        "%d restarts\n",
        events.kills, events.stops, events.terms, events.gate_kills, events.restarts);
    for (const auto& [group, acts] : events.by_group)
        std::printf("  %s: %d SIGKILL, %d SIGSTOP/SIGCONT, %d SIGTERM\n", group.c_str(), acts.kills,
                    acts.stops, acts.terms);
    std::printf(
        "every im node killed, stopped or draining at once for %.1f s; account-1 for %.1f s; "
        "both rank nodes for %.1f s; a gate dead for %.1f s\n",
        events.all_down.count(), events.account_down.count(), events.rank_down.count(),
        events.gate_down.count());
}

void report_requests(const ClientTally& tally) {
    auto n = [](std::uint64_t count) { return static_cast<unsigned long long>(count); };
    std::printf("requests sent %llu: replies %llu (relay %llu), error frames %llu%s\n",
                n(tally.sent), n(tally.replies), n(tally.relay_replies), n(tally.error_total()),
                per_code(tally.errors).c_str());
    for (const auto& [kind, counts] : tally.kinds)
        std::printf(
            "  %-11s sent %llu: replies %llu, error frames %llu%s; cut %llu, lost %llu; slowest "
            "outcome %.2f s\n",
            dinx::chaos::name_of(kind), n(counts.sent), n(counts.replies), n(counts.error_total()),
            per_code(counts.errors).c_str(), n(counts.cut), n(counts.lost), counts.slowest.count());
    for (const auto& [kind, counts] : tally.kinds)
        for (const auto& [code, message] : counts.examples)
            std::printf("    e.g. %s %s: %s\n", dinx::chaos::name_of(kind), code.c_str(),
                        message.c_str());
    std::printf("  leaderboards naming failed rank nodes %llu:%s\n", n(tally.partial_leaderboards),
                per_code(tally.leaderboard_missing).c_str());
    std::printf(
        "logged in: %llu connections; %llu cut before their login's answer, %llu never "
        "answered\n",
        n(tally.logins), n(tally.cut_before_login), n(tally.logins_unanswered));
    std::printf(
        "cut by a gate kill: %llu connections, %llu requests in flight; %llu reconnected, %llu "
        "could not\n",
        n(tally.cut_connections), n(tally.cut), n(tally.reconnects), n(tally.reconnect_failures));
    std::printf(
        "no outcome (lost) %llu, late %llu, twice %llu, out of order %llu, unexpected frames "
        "%llu, clients disconnected %llu\n",
        n(tally.lost), n(tally.late), n(tally.duplicates), n(tally.out_of_order),
        n(tally.unexpected), n(tally.closed));
    std::printf(
        "allowed: outcomes that passed an older request of another order %llu, relays answered "
        "out of order %llu (forwarded requests are not pinned)\n",
        n(tally.overtaken), n(tally.relays_reordered));
    for (const auto& anomaly : tally.anomalies) std::printf("anomaly: %s\n", anomaly.c_str());
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
    // Every connection logs in before it relays, and signs in before it scores: an
    // unauthenticated error is a lost login or sign in.
    // Every kind must have been answered at least once, or the run proved nothing about it.
    bool all_kinds_replied = std::all_of(tally.kinds.begin(), tally.kinds.end(),
                                         [](const auto& kind) { return kind.second.replies > 0; });
    // A leaderboard always replies: its failed calls are named in the reply.
    bool leaderboards_replied = tally.kinds[RequestKind::leaderboard].error_total() == 0;
    bool good = all_kinds_replied && leaderboards_replied && tally.lost == 0 && tally.late == 0 &&
                tally.logins > 0 && tally.logins_unanswered == 0 &&
                tally.errors.count("unauthenticated") == 0 && tally.duplicates == 0 &&
                tally.out_of_order == 0 && tally.unexpected == 0 && tally.closed == 0 &&
                tally.reconnect_failures == 0 && events.crashes.empty() && rss_ok;
    std::printf(
        "%s (seed %u)\n",
        good ? "PASS: every request not cut had exactly one outcome, echoes and calls in order"
             : "FAIL",
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
    cli.add_option("--answer-deadline", options.answer_deadline_s,
                   "seconds a request may wait for its outcome")
        ->capture_default_str();
    cli.add_flag("--show-logs", options.show_logs, "print the node logs even when the run passes");
    cli.add_option("--demo", options.demo, "the dinx-demo executable")->capture_default_str();
    CLI11_PARSE(cli, argc, argv);
    std::printf("chaos: seed %u (rerun with --seed %u)\n", options.seed, options.seed);
    std::fflush(stdout);
    try {
        dinx::test::TempDir dir("dinx-chaos-");
        ChaosCluster cluster(options.demo, dir.path(), options.seed, options.heartbeat_ms);
        ChaosClients clients(cluster.gate_ports(), options.clients, options.depth,
                             ClientMsgIds{.echo = 6,
                                          .relay = 5,
                                          .login = 1,
                                          .sign_in = 14,
                                          .score = 15,
                                          .leaderboard = 16,
                                          .error = 0xFFFF'FFFF},
                             std::chrono::duration_cast<Clock::duration>(
                                 std::chrono::duration<double>(options.answer_deadline_s)));
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
        if (!good || options.show_logs) std::printf("---- node logs\n%s", cluster.logs().c_str());
        return good ? 0 : 1;
    } catch (const std::exception& error) {
        std::fprintf(stderr, "dinx-chaos: %s\n", error.what());
        return 2;
    }
}
