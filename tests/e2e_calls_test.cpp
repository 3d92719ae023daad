// End-to-end tests of calls between services (issue 10), one dinx-demo process per node: the
// scripted client's sign in, score and leaderboard (the gate calls account, then rank, then
// every rank node), a callee SIGSTOPped past the deadline, and a callee killed mid-call. The
// demo's calls wait 2 s at most (demo/services.cpp).

#include "node/blocking_client.hpp"
#include "tests/support/child_process.hpp"

#include <doctest/doctest.h>

#include "tests/support/demo_cluster.hpp"  // (its checks need doctest first)

#include <signal.h>

#include <chrono>
#include <memory>
#include <string>

using namespace dinx::test;
using namespace dinx::test::e2e;

namespace {

constexpr std::uint32_t sign_in = 14;
constexpr std::uint32_t score = 15;
constexpr milliseconds demo_call_timeout = 2s;
// Time a loaded CI machine may add to a deadline before the client hears of it.
constexpr milliseconds slack = 1500ms;

// `settings`: lines of [cluster].
DemoConf services_conf(std::string settings = {}) {
    DemoConf conf;
    conf.settings = std::move(settings);
    conf.with_im2 = false;
    conf.with_services = true;
    conf.routes = std::string(demo_routes) + std::string(demo_service_routes);
    return conf;
}

// Each node in its own process, backends first.
struct ServicesCluster {
    explicit ServicesCluster(std::string settings = {})
        : cluster(services_conf(std::move(settings))) {
        account = &cluster.start_listening({5});
        rank = &cluster.start_listening({6});
        cluster.start_listening({2});
        cluster.start_listening({1});
    }

    std::unique_ptr<BlockingClient> connect() {
        return std::make_unique<BlockingClient>("127.0.0.1", cluster.conf().gate_port, 2000ms);
    }

    Cluster cluster;
    ChildProcess* account = nullptr;
    ChildProcess* rank = nullptr;
};

// The next frame's text, or "" after `timeout`.
std::string next_text(BlockingClient& client, milliseconds timeout) {
    auto frame = client.receive(timeout);
    return frame ? frame->payload : std::string();
}

}  // namespace

TEST_CASE("the scripted client signs in, scores and reads the leaderboard through the services") {
    ServicesCluster c;
    auto run = c.cluster.run_script({"--services"});
    INFO("client output:\n" << run.output);
    INFO("node logs:" << c.cluster.logs());
    REQUIRE(run.exit_code.has_value());
    CHECK(*run.exit_code == 0);
    CHECK(contains(run.output, "welcome alice: level 1, visit 1, rank 1 of 1"));
    CHECK(contains(run.output, "alice +30: score 30, rank 1 of 1 on rank-1"));
    CHECK(contains(run.output, "top: alice 30"));
    CHECK(contains(run.output, "alice: score 30, rank 1 of 1 on rank-1 (protobuf)"));
    CHECK(contains(run.output, "9/9 replies as expected"));
}

TEST_CASE(
    "a callee SIGSTOPped past the deadline: deadline_exceeded at the deadline, others go on") {
    ServicesCluster c;
    auto client = c.connect();
    client->send(sign_in, "bob");
    REQUIRE(contains(next_text(*client, 5s), "welcome bob: level 1, visit 1"));

    c.account->send_signal(SIGSTOP);
    auto carol = c.connect();
    auto start = steady_clock::now();
    carol->send(sign_in, "carol");
    auto error = next_text(*carol, demo_call_timeout + slack + slack);
    auto took = std::chrono::duration_cast<milliseconds>(steady_clock::now() - start);
    INFO(error << "\n" << c.cluster.logs());
    CHECK(contains(error, R"("code": "deadline_exceeded")"));
    CHECK(contains(error, "account: no reply within the call's deadline"));
    CHECK(took >= demo_call_timeout - 100ms);
    CHECK(took < demo_call_timeout + slack);
    // The rank service does not depend on account: carol (bound before the call) still scores.
    carol->send(score, "5");
    CHECK(next_text(*carol, 5s) == "carol +5: score 5, rank 1 of 2 on rank-1");  // bob has 0

    c.account->send_signal(SIGCONT);
    client->send(sign_in, "bob");
    CHECK(contains(next_text(*client, 5s), "welcome bob: level 1, visit 2"));
}

TEST_CASE("a callee killed mid-call: the call fails at once, not at its deadline") {
    ServicesCluster c;
    auto client = c.connect();
    client->send(sign_in, "dave");
    REQUIRE(contains(next_text(*client, 5s), "welcome dave"));

    // Frozen first, so the call is certainly in flight (or queued) when the node dies.
    c.account->send_signal(SIGSTOP);
    auto start = steady_clock::now();
    client->send(sign_in, "dave");
    c.account->send_signal(SIGKILL);
    auto error = next_text(*client, demo_call_timeout + slack);
    auto took = std::chrono::duration_cast<milliseconds>(steady_clock::now() - start);
    INFO(error << "\n" << c.cluster.logs());
    // Sent before the death: it may have run; not sent yet: certainly not.
    bool lost = contains(error, R"("code": "deadline_exceeded")") &&
                contains(error, "was lost during the call");
    bool refused = contains(error, R"("code": "unavailable")");
    CHECK((lost || refused));
    CHECK(took < demo_call_timeout);
    // And a call to the dead node now fails at once with unavailable.
    auto eve = c.connect();
    start = steady_clock::now();
    eve->send(sign_in, "eve");
    error = next_text(*eve, demo_call_timeout + slack);
    CHECK(contains(error, R"("code": "unavailable")"));
    CHECK(steady_clock::now() - start < demo_call_timeout);
}
