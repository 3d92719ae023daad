// End-to-end tests of live operations (issue 12): SIGHUP reloads under steady load from the
// load tool (routes moved, a node added, another removed), a reload refused for a mistake, and
// `dinx-demo ctl` against a running cluster (status, routes, reload, kick, drain, and callers
// that must be refused).
//
// Every wait is bounded and awaits a condition (a log line, a process exiting, a frame); the
// one-second pauses only let the load run on both sides of a change.

#include "node/blocking_client.hpp"
#include "tests/support/child_process.hpp"

#include <doctest/doctest.h>

#include "tests/support/demo_cluster.hpp"  // (its checks need doctest first)

#include <nlohmann/json.hpp>

#include <signal.h>

#include <set>
#include <string>
#include <thread>
#include <vector>

using namespace dinx::test;
using namespace dinx::test::e2e;

namespace {

constexpr std::string_view secret_env = "DINX_CLUSTER_SECRET=ops-test-secret-0123456789";

/// The demo's routes, the services' and the players', as conf/route.toml has them.
std::string all_routes() {
    return std::string(demo_routes) + std::string(demo_service_routes);
}

/// `routes` with msgIDs 3 (send) and 6 (echo) handled by `group` instead of im.
std::string send_and_echo_on(std::string routes, std::string_view group) {
    for (std::string_view id : {"3", "6"})
        routes = replaced(routes, "[[im]]\nmsg_id = " + std::string(id),
                          "[[" + std::string(group) + "]]\nmsg_id = " + std::string(id));
    return routes;
}

/// The load tool against the gate: 16 connections, 4 requests in flight each, `seconds` long.
ChildProcess& start_load(Cluster& cluster, int seconds) {
    return cluster.start_tool({load_path(), "--port", std::to_string(cluster.conf().gate_port),
                               "-c", "16", "-d", "4", "--warmup", "0", "--duration",
                               std::to_string(seconds)},
                              "load");
}

/// The load tool finished with every reply back, in order, and no error frame.
void check_load_lost_nothing(ChildProcess& load, const Cluster& cluster) {
    auto exit_code = load.wait_for_exit(30s);
    auto output = load.read_output();
    INFO(output << cluster.logs());
    REQUIRE(exit_code.has_value());
    CHECK(contains(output, "errors 0   lost 0   out-of-order 0"));
    CHECK(*exit_code == 0);
}

/// Sends SIGHUP to each of `processes` and waits until each logged its `nth` reload.
void reload_all(const std::vector<ChildProcess*>& processes, const Cluster& cluster,
                std::size_t nth) {
    for (auto* process : processes) process->send_signal(SIGHUP);
    for (auto* process : processes) {
        INFO(cluster.logs());
        REQUIRE_MESSAGE(wait_for_output(*process, "reload: version", promised_bound, nth),
                        process->command_line() << " did not reload");
    }
}

/// The name of the node that answers msgID 3 for a fresh logged-in client.
std::string node_answering_send(const Cluster& cluster, const std::string& player) {
    auto client = connect_to_gate(cluster);
    log_in(client, player);
    client.send(3, "who");
    auto reply = receive_frame(client);
    return reply.payload.substr(0, reply.payload.find(':'));
}

/// Runs `dinx-demo ctl ARGS` with the test's secret; returns its exit code and output.
std::pair<std::optional<int>, std::string> ctl(Cluster& cluster,
                                               const std::vector<std::string>& args) {
    std::vector<std::string> argv{"/usr/bin/env", std::string(secret_env), demo_path(), "ctl",
                                  "--conf", cluster.dir().string()};
    argv.insert(argv.end(), args.begin(), args.end());
    auto& tool = cluster.start_tool(argv, "ctl");
    auto exit_code = tool.wait_for_exit(20s);
    return {exit_code, tool.read_output()};
}

}  // namespace

TEST_CASE("SIGHUP moves msgIDs to another group and back under steady load, losing nothing") {
    DemoConf conf;
    conf.with_services = true;
    conf.routes = all_routes();
    Cluster cluster(conf);
    std::vector<ChildProcess*> processes;
    for (std::uint32_t id : {2u, 3u, 5u, 6u, 1u}) processes.push_back(&cluster.start_listening({id}));
    auto& load = start_load(cluster, 6);
    std::this_thread::sleep_for(1s);

    // To the gate's own group first: the gate answers at once, so a request that did not wait
    // for the client's requests still on im would overtake them.
    for (std::string group : {"gate", "rank"}) {
        auto moved = conf;
        moved.routes = send_and_echo_on(all_routes(), group);
        cluster.rewrite(moved);
        reload_all(processes, cluster, group == "gate" ? 1 : 3);
        INFO(cluster.logs());
        CHECK(wait_for_output(*processes.back(), "reload: msg_id 6 moved from im to " + group));
        CHECK(node_answering_send(cluster, "mover-" + group) == group + "-1");
        std::this_thread::sleep_for(1s);
        cluster.rewrite(conf);
        reload_all(processes, cluster, group == "gate" ? 2 : 4);
        CHECK(wait_for_output(*processes.back(), "reload: msg_id 6 moved from " + group + " to im"));
    }
    check_load_lost_nothing(load, cluster);
}

TEST_CASE("a node added and another removed by SIGHUP under steady load lose nothing") {
    DemoConf conf;
    Cluster cluster(conf);
    auto* im1 = &cluster.start_listening({2});
    auto* im2 = &cluster.start_listening({3});
    auto* gate = &cluster.start_listening({1});
    auto& load = start_load(cluster, 5);
    std::this_thread::sleep_for(1s);

    auto grown = conf;
    grown.with_im3 = true;
    cluster.rewrite(grown);
    auto* im3 = &cluster.start_listening({8});  // the operator starts it, then reloads the rest
    reload_all({gate, im1, im2}, cluster, 1);
    CHECK(wait_for_output(*gate, "reload: node added: im-3 (id 8, group im)"));
    // Rendezvous hashing gives the new node about a third of new clients: 40 clients that all
    // miss it would have odds of (2/3)^40, about 1e-7.
    std::set<std::string> answering;
    for (int i = 0; i < 40 && !answering.contains("im-3"); ++i)
        answering.insert(node_answering_send(cluster, "p" + std::to_string(i)));
    CHECK(answering.contains("im-3"));
    std::this_thread::sleep_for(1s);

    auto shrunk = grown;
    shrunk.with_im1 = false;
    cluster.rewrite(shrunk);
    reload_all({gate, im1, im2}, cluster, 2);
    reload_all({im3}, cluster, 1);
    // im-1 left the config: its process drains its only node and exits by itself.
    auto exit_code = im1->wait_for_exit(promised_bound);
    INFO(cluster.logs());
    REQUIRE(exit_code.has_value());
    CHECK(*exit_code == 0);
    CHECK(contains(im1->read_output(), "no node left to run: exiting"));
    check_load_lost_nothing(load, cluster);
    for (int i = 0; i < 8; ++i) CHECK(node_answering_send(cluster, "q" + std::to_string(i)) != "im-1");
}

TEST_CASE("a route.toml mistake is refused by SIGHUP with its file and line, and the node runs on") {
    DemoConf conf;
    conf.with_im2 = false;
    Cluster cluster(conf);
    cluster.start_listening({2});
    auto& gate = cluster.start_listening({1});
    auto broken = conf;
    broken.routes += "\n[[im]]\nmsg_id = 3\nname = \"twice\"\n";
    cluster.rewrite(broken);
    gate.send_signal(SIGHUP);
    INFO(cluster.logs());
    CHECK(wait_for_output(gate, "reload: reload refused, nothing changed: "));
    CHECK(contains(gate.read_output(), "route.toml:" + std::to_string(line_of(broken.routes,
                                                                                "[[im]]\nmsg_id = 3\nname = \"twice\"")) +
                                           ": msg_id 3 ('twice') is already routed"));
    auto client = connect_to_gate(cluster);
    log_in(client, "alice");
    client.send(3, "still here");
    CHECK(receive_frame(client).payload == "im-1: still here");
}

TEST_CASE("ctl shows status and routes, reloads, kicks and drains a running cluster") {
    DemoConf conf;
    conf.with_admin = true;
    Cluster cluster(conf);
    auto env = std::vector<std::string>{std::string(secret_env)};
    cluster.start_listening({2}, env);
    auto& im2 = cluster.start_listening({3}, env);
    cluster.start_listening({1}, env);
    auto player = connect_to_gate(cluster);
    log_in(player, "alice");

    auto [status_exit, status] = ctl(cluster, {"status"});
    INFO(status << cluster.logs());
    CHECK(status_exit == 0);
    CHECK(contains(status, "gate-1      gate      running"));
    CHECK(contains(status, "1 (1 bound)"));
    CHECK(contains(status, "every node that answered runs version "));

    auto [json_exit, json_text] = ctl(cluster, {"--json", "--node", "gate-1", "status"});
    auto parsed = nlohmann::json::parse(json_text, nullptr, false);
    REQUIRE_FALSE(parsed.is_discarded());
    const auto& answer = parsed["nodes"][0]["answer"];
    CHECK(answer["clients"]["bound"] == 1);
    CHECK(answer["node"]["name"] == "gate-1");
    auto version = answer["version"].get<std::string>();

    auto [routes_exit, routes] = ctl(cluster, {"routes"});
    CHECK(routes_exit == 0);
    CHECK(contains(routes, "3           send            im          im-1, im-2"));

    auto moved = conf;
    moved.routes = send_and_echo_on(std::string(demo_routes), "gate");
    cluster.rewrite(moved);
    auto [reload_exit, reloaded] = ctl(cluster, {"reload"});
    CHECK(reload_exit == 0);
    CHECK(contains(reloaded, "gate-1: version " + version + " -> "));
    CHECK(contains(reloaded, "  msg_id 3 moved from im to gate"));
    player.send(3, "after the reload");
    CHECK(receive_frame(player).payload == "gate-1: after the reload");

    auto [kick_exit, kicked] = ctl(cluster, {"kick", "alice"});
    CHECK(kick_exit == 0);
    CHECK(contains(kicked, "kicked"));
    CHECK(receive_frame(player).msg_id == 0xFFFF'FFFE);  // the kick frame, then the close

    auto [drain_exit, drained] = ctl(cluster, {"drain", "im-2"});
    CHECK(drain_exit == 0);
    CHECK(contains(drained, "im-2: draining, then stopping"));
    auto im2_exit = im2.wait_for_exit(promised_bound);
    REQUIRE(im2_exit.has_value());
    CHECK(*im2_exit == 0);
    auto [after_exit, after] = ctl(cluster, {"status"});
    CHECK(after_exit == 1);  // im-2 is gone: one node did not answer
    CHECK(contains(after, "im-2        unreachable: "));
}

TEST_CASE("the admin endpoint refuses a wrong secret and hostile callers, and serves the others") {
    DemoConf conf;
    conf.with_admin = true;
    conf.with_im2 = false;
    Cluster cluster(conf);
    auto env = std::vector<std::string>{std::string(secret_env)};
    cluster.start_listening({2}, env);
    auto& gate = cluster.start_listening({1}, env);
    auto admin_port = conf.admin_ports.at(1);

    auto& wrong = cluster.start_tool({"/usr/bin/env", "DINX_CLUSTER_SECRET=not-the-secret-at-all",
                                      demo_path(), "ctl", "--conf", cluster.dir().string(),
                                      "--node", "gate-1", "status"},
                                     "wrong-secret");
    CHECK(wrong.wait_for_exit(20s) == 1);
    CHECK(contains(wrong.read_output(), "refused: wrong proof of the cluster secret"));

    // Garbage, an oversized frame and a silent caller are closed; an honest caller beside them
    // is served.
    BlockingClient garbage("127.0.0.1", admin_port, 2s);
    garbage.send_raw(dinx::as_bytes(std::string_view("GET / HTTP/1.1\r\n\r\n")));
    BlockingClient oversized("127.0.0.1", admin_port, 2s);
    oversized.send(2, std::string(100'000, 'x'));
    BlockingClient silent("127.0.0.1", admin_port, 2s);
    auto [ok_exit, ok] = ctl(cluster, {"--node", "gate-1", "status"});
    INFO(ok << cluster.logs());
    CHECK(ok_exit == 0);
    for (auto* client : {&garbage, &oversized}) {
        while (client->receive(2s)) {
        }  // the challenge, maybe a refusal, then the close
        CHECK(client->closed());
    }
    CHECK(silent.receive(2s).has_value());  // the challenge
    // The proof deadline is 5 s: then the silent caller is closed too.
    CHECK_FALSE(silent.receive(8s).has_value());
    CHECK(silent.closed());
    CHECK(wait_for_output(gate, "admin: refused"));
}
