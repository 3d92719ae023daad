// Loopback integration tests of live reloads (issue 12): routes moved, nodes added and removed,
// settings changed, while clients are connected and requests are in flight. Real gates and
// backends run in this process on port 0, each node in its own Process, and every process takes
// the new config as SIGHUP would have it take it (apply_reload).
//
// Every wait is bounded and awaits what it checks (a frame, a node's stop); none sleeps hoping
// the cluster caught up.

#include "dict/config_loader.hpp"
#include "support/child_process.hpp"
#include "support/test_cluster.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <set>
#include <string>
#include <thread>
#include <vector>

using namespace dinx;
using namespace dinx::test;
using namespace std::chrono_literals;
using std::chrono::steady_clock;

namespace {

constexpr std::uint32_t gate1 = 1;
constexpr std::uint32_t im1 = 2;
constexpr std::uint32_t im2 = 3;
constexpr std::uint32_t logic1 = 5;
constexpr std::uint32_t error_msg_id = 0xFFFF'FFFF;

/// The test's routes with `slow` and `send` (3) sent to `group`.
std::map<std::uint32_t, std::string> routes_with_slow_on(const std::string& group) {
    auto routes = demo_routes();
    routes[slow] = group;
    routes[3] = group;
    return routes;
}

/// Every report applied.
void check_applied(const std::vector<cluster::ReloadReport>& reports) {
    for (const auto& report : reports) {
        INFO(report.error);
        CHECK(report.applied);
    }
}

/// Names of the nodes that answer msgID 3 for `count` fresh clients of gate 1.
std::set<std::string> nodes_answering(TestCluster& cluster, int count) {
    std::set<std::string> names;
    for (int i = 0; i < count; ++i) {
        auto client = cluster.connect(gate1);
        client->send(3, "who");
        auto reply = next_frame(*client);
        names.insert(reply.payload.substr(0, reply.payload.find(':')));
    }
    return names;
}

/// Sends a slow request (msgID 24) of `ms` and waits until its handler started on a node.
void send_slow(node::BlockingClient& client, const std::string& ms) {
    auto before = slow_starts().started();
    client.send(slow, ms);
    REQUIRE_MESSAGE(slow_starts().wait_for(before + 1, 5s), "the slow request reached no node");
}

}  // namespace

TEST_CASE("a msgID moved by a reload waits behind the client's requests to its old group") {
    auto nodes = std::vector{gate(gate1, "gate-1"), backend(im1, "im-1"),
                             backend(logic1, "logic-1", "logic")};
    TestCluster cluster(make_config(nodes, routes_with_slow_on("im")));
    cluster.start({gate1});
    cluster.start({im1});
    cluster.start({logic1});
    auto client = cluster.connect(gate1);

    send_slow(*client, "300");  // im-1 answers in 300 ms
    auto moved = cluster.reload(make_config(nodes, routes_with_slow_on("logic")));
    check_applied(moved);
    CHECK(moved[0].changes.size() == 2);  // msgIDs 3 and 24 moved
    client->send(slow, "0");    // logic-1 would answer at once: it must not overtake
    CHECK(next_frame(*client).payload == "im-1 300");
    CHECK(next_frame(*client).payload == "logic-1 0");
    // With nothing in flight, the moved msgID goes straight to its new group.
    client->send(3, "hello");
    CHECK(next_frame(*client).payload == "logic-1: hello");
}

TEST_CASE("a msgID a reload moves to the gate's own group waits behind the client's requests") {
    auto nodes = std::vector{gate(gate1, "gate-1"), backend(im1, "im-1")};
    TestCluster cluster(make_config(nodes, routes_with_slow_on("im")));
    cluster.start({gate1});
    cluster.start({im1});
    auto client = cluster.connect(gate1);
    send_slow(*client, "300");
    check_applied(cluster.reload(make_config(nodes, routes_with_slow_on("gate"))));
    client->send(slow, "0");  // the gate would answer at once: it must not overtake
    CHECK(next_frame(*client).payload == "im-1 300");
    CHECK(next_frame(*client).payload == "gate-1 0");
}

TEST_CASE("a node a reload removes finishes its requests, gets no new ones, and stops") {
    auto nodes = std::vector{gate(gate1, "gate-1"), backend(im1, "im-1"), backend(im2, "im-2")};
    TestCluster cluster(make_config(nodes, routes_with_slow_on("im")));
    cluster.start({gate1});
    cluster.start({im1});
    cluster.start({im2});
    auto client = cluster.connect(gate1);
    client->send(slow, "300");
    client->send(3, "before");
    // Both go to the client's node; the reload removes that one.
    auto first = next_frame(*client, 2s);
    auto pinned = first.payload.substr(0, first.payload.find(' '));
    REQUIRE((pinned == "im-1" || pinned == "im-2"));
    auto removed = pinned == "im-1" ? im1 : im2;
    auto kept_name = pinned == "im-1" ? "im-2" : "im-1";
    CHECK(next_frame(*client).payload == pinned + ": before");

    send_slow(*client, "300");
    std::vector<NodeSpec> without{nodes[0], removed == im1 ? nodes[2] : nodes[1]};
    auto reports = cluster.reload(make_config(without, routes_with_slow_on("im")));
    check_applied(reports);
    client->send(3, "after");  // must wait for the slow one, then go to the other node
    CHECK(next_frame(*client).payload == pinned + " 300");
    CHECK(next_frame(*client).payload == std::string(kept_name) + ": after");

    // The removed node's process drained it and stopped it.
    auto& process = cluster.process_of(removed);
    auto deadline = steady_clock::now() + 5s;
    while (!process.running_ids().empty() && steady_clock::now() < deadline)
        std::this_thread::sleep_for(10ms);
    CHECK(process.running_ids().empty());
    CHECK(nodes_answering(cluster, 8) == std::set<std::string>{kept_name});
}

TEST_CASE("a node a reload adds takes its share of the group's new clients") {
    auto one = std::vector{gate(gate1, "gate-1"), backend(im1, "im-1")};
    auto two = std::vector{gate(gate1, "gate-1"), backend(im1, "im-1"), backend(im2, "im-2")};
    TestCluster cluster(make_config(one, demo_routes()));
    cluster.start({gate1});
    cluster.start({im1});
    CHECK(nodes_answering(cluster, 8) == std::set<std::string>{"im-1"});
    // A node another process runs needs a port the others can dial: a reload refuses port 0.
    auto refused = cluster.reload(make_config(two, demo_routes()));
    CHECK_FALSE(refused[0].applied);
    CHECK(refused[0].error.find("backend 'im-2' has 'port' 0") != std::string::npos);
    auto grown = make_config(two, demo_routes());
    grown.nodes[2].port = free_ports(1)[0];
    auto reports = cluster.reload(grown);
    check_applied(reports);
    cluster.start({im2});  // from the new config, as an operator starts the new process
    // Rendezvous hashing sends about half of the clients to the new node: 32 clients all
    // landing on one node has odds of 2^-31.
    CHECK(nodes_answering(cluster, 32) == std::set<std::string>{"im-1", "im-2"});
}

TEST_CASE("a reload this process could not run is refused and changes nothing") {
    auto nodes = std::vector{gate(gate1, "gate-1"), backend(im1, "im-1")};
    TestCluster cluster(make_config(nodes, demo_routes()));
    cluster.start({gate1, im1});
    auto before = cluster.process_of(gate1).topology()->version();
    auto routes = demo_routes();
    routes[999] = "im";  // no handler for it here
    routes.erase(3);
    auto reports = cluster.reload(make_config(nodes, routes));
    REQUIRE(reports.size() == 1);
    CHECK_FALSE(reports[0].applied);
    CHECK(reports[0].error.find("msg_id 999") != std::string::npos);
    CHECK(cluster.process_of(gate1).topology()->version() == before);
    auto client = cluster.connect(gate1);
    client->send(3, "still routed");
    CHECK(next_frame(*client).payload == "im-1: still routed");
}

TEST_CASE("settings a reload cannot change are named and keep their running value") {
    auto nodes = std::vector{gate(gate1, "gate-1"), backend(im1, "im-1")};
    TestCluster cluster(make_config(nodes, demo_routes()));
    cluster.start({gate1, im1});
    auto changed = make_config(nodes, demo_routes());
    changed.settings.io_threads = 7;
    changed.settings.max_packet_size = 1024;
    changed.nodes[1].parallel = true;  // im-1's own row: its process must restart for it
    auto reports = cluster.reload(changed);
    REQUIRE(reports.size() == 1);
    CHECK(reports[0].applied);
    auto& report = reports[0];
    auto mentions = [&](const std::vector<std::string>& lines, std::string_view part) {
        for (const auto& line : lines)
            if (line.find(part) != std::string::npos) return true;
        return false;
    };
    CHECK(mentions(report.needs_restart, "io_threads 0 -> 7"));
    CHECK(mentions(report.needs_restart, "im-1 (runs here): parallel false -> true"));
    CHECK_FALSE(mentions(report.needs_restart, "max_packet_size"));
    CHECK(mentions(report.changes, "max_packet_size 65536 -> 1024"));
    auto running = cluster.process_of(gate1).topology();
    CHECK(running->settings().io_threads == 0);
    CHECK(running->settings().max_packet_size == 1024);
    CHECK_FALSE(running->node(im1)->parallel);
    CHECK(running->version() == report.version);

    // The new packet limit holds for clients from now on: a frame over it closes the client.
    auto client = cluster.connect(gate1);
    client->send(6, std::string(2000, 'x'));
    CHECK_FALSE(client->receive(2s).has_value());
    CHECK(client->closed());
}

TEST_CASE("a msgID a reload unroutes gets no_route, and one it routes to the gate runs there") {
    auto nodes = std::vector{gate(gate1, "gate-1"), backend(im1, "im-1")};
    TestCluster cluster(make_config(nodes, demo_routes()));
    cluster.start({gate1});
    cluster.start({im1});
    auto routes = demo_routes();
    routes.erase(4);
    routes[3] = "gate";
    check_applied(cluster.reload(make_config(nodes, routes)));
    auto client = cluster.connect(gate1);
    client->send(3, "here");
    CHECK(next_frame(*client).payload == "gate-1: here");
    client->send(4, "anyone");
    auto error = next_frame(*client);
    CHECK(error.msg_id == error_msg_id);
    CHECK(error.payload.find("no_route") != std::string::npos);
}
