// End-to-end tests of `dinx-demo client --script --port2`: the two-gate conversation against a
// cluster of real dinx-demo processes (gate-1, gate-2, im-1, im-2, one process each) on free
// loopback ports, with conf/route.toml's routes.
//
// Every wait is bounded and awaits a condition (a port accepting, the client exiting); the
// client itself awaits each frame it expects.

#include "tests/support/child_process.hpp"

#include <doctest/doctest.h>

#include "tests/support/demo_cluster.hpp"  // (its checks need doctest first)

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

using namespace dinx::test;
using namespace dinx::test::e2e;

namespace {

constexpr std::uint32_t gate1 = 1;
constexpr std::uint32_t im1 = 2;
constexpr std::uint32_t im2 = 3;
constexpr std::uint32_t gate2 = 4;

// The client's wait per step; 12 steps of it bound the whole run.
constexpr int step_timeout_ms = 3000;
constexpr auto client_timeout = std::chrono::seconds(45);

// gate-1, im-1, im-2 and gate-2, the demo's routes.
DemoConf two_gate_conf() {
    DemoConf conf;
    conf.with_gate2 = true;
    conf.routes = std::string(demo_routes) + std::string(demo_player_routes);
    return conf;
}

// Starts `ids` as one process each, waiting until each listens. The backends go first: a gate
// that found them down at start-up answers `unavailable` until its next dial (what the client
// script reports as a failure, rightly).
void start_each(Cluster& cluster, const std::vector<std::uint32_t>& ids) {
    for (auto id : ids) cluster.start_listening({id});
}

// Runs `dinx-demo client --script` on gate-1 with `--port2 port2` and waits for it to finish.
ScriptRun run_conversation(Cluster& cluster, std::uint16_t port2) {
    auto& client =
        cluster.start_tool({demo_path(), "client", "--script", "--host", "127.0.0.1", "--port",
                            std::to_string(cluster.conf().gate_port), "--port2",
                            std::to_string(port2), "--timeout-ms", std::to_string(step_timeout_ms)},
                           "conversation");
    auto exit_code = client.wait_for_exit(client_timeout);
    return {exit_code, client.read_output()};
}

}  // namespace

TEST_CASE("the two-gate demo script: rooms, whispers, a say and a replaced login") {
    Cluster cluster(two_gate_conf());
    start_each(cluster, {im1, im2, gate1, gate2});
    auto run = run_conversation(cluster, cluster.conf().gate2_port);
    INFO("client output:\n" << run.output);
    INFO("node logs:" << cluster.logs());
    REQUIRE_MESSAGE(run.exit_code.has_value(), "the client did not finish in time");
    CHECK(*run.exit_code == 0);
    CHECK(contains(run.output, "alice <- 1 welcome alice"));
    CHECK(contains(run.output, "bob <- 1 welcome bob"));
    CHECK(contains(run.output, "<- 11 lobby: alice bob"));
    CHECK(contains(run.output, "alice -> 10 bob hi bob"));
    CHECK(contains(run.output, "bob <- 10 alice: hi bob"));
    CHECK(contains(run.output, "alice <- 10 to bob: hi bob"));
    CHECK(contains(run.output, "alice <- 10 bob: hi alice"));
    CHECK(contains(run.output, "bob <- 9 lobby alice: hello lobby"));
    CHECK(contains(run.output, "alice <- 9 lobby alice: hello lobby"));
    CHECK(contains(run.output, "bob#2 <- 1 welcome bob"));
    CHECK(contains(run.output, "bob <- kick {\"msg_id\": 0, \"code\": \"replaced\""));
    CHECK(contains(run.output, "bob <- EOF"));
    CHECK(contains(run.output, "bob#2 <- 10 alice: welcome back"));
    CHECK(contains(run.output, "12/12 steps as expected"));
    CHECK_FALSE(contains(run.output, "FAILED"));
}

TEST_CASE("the two-gate demo script fails when nothing listens on --port2") {
    DemoConf conf = two_gate_conf();
    conf.with_gate2 = false;  // gate2_port stays a free port nobody listens on
    Cluster cluster(conf);
    start_each(cluster, {im1, im2, gate1});
    REQUIRE_FALSE(port_accepts(cluster.conf().gate2_port));
    auto run = run_conversation(cluster, cluster.conf().gate2_port);
    INFO("client output:\n" << run.output);
    REQUIRE_MESSAGE(run.exit_code.has_value(), "the client did not finish in time");
    CHECK(*run.exit_code == 1);
    CHECK(contains(run.output, "alice <- 1 welcome alice"));
    CHECK(contains(run.output, "FAILED: bob logs in on gate 2"));
    CHECK(contains(run.output, "1/12 steps as expected"));
}
