// End-to-end tests of rolling upgrades (issue 12): a cluster whose nodes announce two link
// protocol versions at once (the previous release's, with --link-protocol, and this one's), and
// a rolling restart of every node, gates included, under load from the load tool.
//
// Every wait is bounded and awaits a condition (a port, a process exiting, a frame); the
// one-second pauses only let the load run on both sides of a restart.

#include "cluster/link/link_handshake.hpp"
#include "node/blocking_client.hpp"
#include "tests/support/child_process.hpp"

#include <doctest/doctest.h>

#include "tests/support/demo_cluster.hpp"  // (its checks need doctest first)

#include <signal.h>

#include <string>
#include <thread>
#include <vector>

using namespace dinx::test;
using namespace dinx::test::e2e;

namespace {

/// The arguments that make a node announce the previous release's link protocol.
const std::vector<std::string> previous_protocol{
    "--link-protocol", std::to_string(dinx::cluster::link_protocol_version - 1)};

/// The load tool against gate `gate_id` for `seconds`: 16 connections, 4 requests in flight.
ChildProcess& start_load(Cluster& cluster, std::uint32_t gate_id, int seconds) {
    return cluster.start_tool({load_path(), "--port", std::to_string(cluster.conf().port_of(gate_id)),
                               "-c", "16", "-d", "4", "--warmup", "0", "--duration",
                               std::to_string(seconds)},
                              "load-gate-" + std::to_string(gate_id));
}

/// What the load tool printed, once it exited.
std::string load_result(ChildProcess& load, const Cluster& cluster) {
    auto exit_code = load.wait_for_exit(30s);
    INFO(load.read_output() << cluster.logs());
    REQUIRE(exit_code.has_value());
    return load.read_output();
}

/// The load lost nothing and saw no error frame: its gate did not restart.
void check_untouched(ChildProcess& load, const Cluster& cluster) {
    auto output = load_result(load, cluster);
    INFO(output);
    CHECK(contains(output, "errors 0   lost 0   out-of-order 0   closed by server 0"));
}

/// Its gate restarted under it: every request got its answer (or an `unavailable` error frame
/// while the gate drained), in order, and then each connection ended in order, not reset.
void check_drained(ChildProcess& load, const Cluster& cluster) {
    auto output = load_result(load, cluster);
    INFO(output);
    CHECK(contains(output, "   lost 0   out-of-order 0   closed by server 16   reset by server 0"));
}

/// Stops `process` with SIGTERM (exit code 0) and starts node `id` again.
ChildProcess& restart(Cluster& cluster, ChildProcess& process, std::uint32_t id) {
    check_signal_stops(process, SIGTERM, cluster);
    return cluster.start_listening({id});
}

}  // namespace

TEST_CASE("half the nodes on the previous link protocol: requests flow, calls to them are refused "
          "with the reason") {
    DemoConf conf;
    conf.with_gate2 = true;
    conf.with_services = true;
    conf.routes = std::string(demo_routes) + std::string(demo_service_routes);
    Cluster cluster(conf);
    // New: im-1, account-1, gate-1. Previous: im-2, rank-1, gate-2.
    cluster.start_listening({2});
    cluster.start_listening({3}, {}, previous_protocol);
    cluster.start_listening({5});
    cluster.start_listening({6}, {}, previous_protocol);
    cluster.start_listening({1});
    cluster.start_listening({4}, {}, previous_protocol);
    auto& new_gate_load = start_load(cluster, 1, 2);
    auto& old_gate_load = start_load(cluster, 4, 2);
    check_untouched(new_gate_load, cluster);
    check_untouched(old_gate_load, cluster);

    // A new gate calls the new account node, then the old rank node, which has no calls.
    auto on_new = connect_to_gate(cluster, 1);
    on_new.send(14, "alice");
    auto refused = receive_frame(on_new);
    INFO(refused.payload << cluster.logs());
    CHECK(refused.msg_id == error_msg_id);
    CHECK(contains(refused.payload, "\"code\": \"unavailable\""));
    CHECK(contains(refused.payload, "rank: node rank-1 speaks link protocol 3, which has no calls"));
    // An old gate makes no call at all: it speaks the previous protocol on every link.
    auto on_old = connect_to_gate(cluster, 4);
    on_old.send(14, "bob");
    auto old_refused = receive_frame(on_old);
    CHECK(old_refused.msg_id == error_msg_id);
    CHECK(contains(old_refused.payload, "speaks link protocol 3, which has no calls"));
}

TEST_CASE("a rolling restart of every node under load: only the restarting gate's clients see it, "
          "drained") {
    DemoConf conf;
    conf.with_gate2 = true;
    // The next node restarts once the gates link to the last one again: they redial within
    // reconnect_max_ms, which the one-second pauses below cover (see the im rolling restart in
    // e2e_test.cpp).
    conf.settings = "reconnect_max_ms = 200";
    Cluster cluster(conf);
    auto* im1 = &cluster.start_listening({2});
    auto* im2 = &cluster.start_listening({3});
    auto* gate1 = &cluster.start_listening({1});
    auto* gate2 = &cluster.start_listening({4});

    // The im nodes, one at a time: no client of either gate sees anything.
    auto& on_gate1 = start_load(cluster, 1, 4);
    auto& on_gate2 = start_load(cluster, 4, 4);
    std::this_thread::sleep_for(1s);
    im1 = &restart(cluster, *im1, 2);
    std::this_thread::sleep_for(1s);
    im2 = &restart(cluster, *im2, 3);
    check_untouched(on_gate1, cluster);
    check_untouched(on_gate2, cluster);

    // Each gate in turn: the other gate's clients see nothing; its own are drained.
    for (auto [restarting, other] : {std::pair{1u, 4u}, std::pair{4u, 1u}}) {
        auto& mine = start_load(cluster, restarting, 3);
        auto& theirs = start_load(cluster, other, 3);
        std::this_thread::sleep_for(1s);
        auto*& gate = restarting == 1 ? gate1 : gate2;
        gate = &restart(cluster, *gate, restarting);
        check_drained(mine, cluster);
        check_untouched(theirs, cluster);
    }
    // Everyone came back: the restarted gates serve.
    check_untouched(start_load(cluster, 1, 1), cluster);
    check_untouched(start_load(cluster, 4, 1), cluster);
}
