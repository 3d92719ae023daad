// End-to-end tests: real dinx-demo processes, started from a temporary conf dir on free loopback
// ports, driven by the demo client and by a BlockingClient, stopped by signals.
//
// Every wait is bounded and awaits a condition (a port accepting, a process exiting, a frame
// arriving); nothing sleeps a fixed time hoping the cluster caught up.

#include "node/blocking_client.hpp"
#include "node/frame_codec.hpp"
#include "tests/support/child_process.hpp"

#include <doctest/doctest.h>

#include "tests/support/demo_cluster.hpp"  // (its checks need doctest first)

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

using namespace dinx::test;
using namespace dinx::test::e2e;

TEST_CASE("the demo script passes against one process per node") {
    Cluster cluster;
    // Backends first: see start_listening.
    cluster.start_listening({2});
    cluster.start_listening({3});
    cluster.start_listening({1});
    check_script_passes(cluster);
}

TEST_CASE("the demo script passes against every node in one process") {
    Cluster cluster;
    cluster.start_listening();
    check_script_passes(cluster);
}

TEST_CASE("SIGTERM stops every node process with exit code 0 within 5 seconds") {
    Cluster cluster;
    // Backends first: see start_listening.
    auto& im1 = cluster.start_listening({2});
    auto& im2 = cluster.start_listening({3});
    auto& gate = cluster.start_listening({1});
    check_script_passes(cluster);  // so that links are up in both directions when we stop

    // One at a time, the gate first: each backend then stops with its link already dropped.
    check_signal_stops(gate, SIGTERM, cluster);
    check_signal_stops(im1, SIGTERM, cluster);
    check_signal_stops(im2, SIGTERM, cluster);
}

TEST_CASE("SIGINT stops a node with exit code 0 within 5 seconds while a client is connected") {
    Cluster cluster;
    auto& gate = cluster.start_listening({1});
    auto client = connect_to_gate(cluster);
    client.send(1, "alice");
    CHECK(receive_frame(client).payload == "welcome alice");
    check_signal_stops(gate, SIGINT, cluster);
}

TEST_CASE("send, broadcast and relay get unauthenticated before login, and work after it") {
    DemoConf conf;
    conf.with_im2 = false;
    Cluster cluster(conf);
    // Backends first: see start_listening.
    cluster.start_listening({2});
    cluster.start_listening({1});
    auto client = connect_to_gate(cluster);
    INFO(cluster.logs());
    for (std::uint32_t msg_id : {3u, 4u, 5u}) {
        client.send(msg_id, "too early");
        auto refused = receive_frame(client);
        INFO(refused.payload);
        CHECK(refused.msg_id == error_msg_id);
        CHECK(contains(refused.payload, "\"code\": \"unauthenticated\""));
        CHECK(contains(refused.payload, "\"msg_id\": " + std::to_string(msg_id) + ","));
    }
    log_in(client, "alice");
    client.send(3, "hello");
    CHECK(receive_frame(client).payload == "im-1: hello");
    client.send(2, "");
    CHECK(receive_frame(client).payload == "bye alice");
    client.send(3, "logged out");
    CHECK(contains(receive_frame(client).payload, "\"code\": \"unauthenticated\""));
}

TEST_CASE("a duplicate node id in dinx.toml is refused with its file and line, exit code 2") {
    DemoConf conf;
    Cluster cluster(conf);
    // im-2 takes im-1's id.
    auto nodes = replaced(conf.nodes(), "id = 3", "id = 2");
    write_file(cluster.dir() / "dinx.toml", nodes);
    auto output = check_refused(cluster);

    auto where = (cluster.dir() / "dinx.toml").string() + ":";
    auto at = output.find(where);
    REQUIRE_MESSAGE(at != std::string::npos, output);
    int line = std::atoi(output.c_str() + at + where.size());
    // The line must point into im-2's table: its [[im]] header or its id.
    int id_line = line_of(nodes, "id = 2\nname = \"im-2\"");
    CHECK(line >= id_line - 1);
    CHECK(line <= id_line);
    CHECK(contains(output.substr(at), "duplicate"));
}

TEST_CASE("a syntax error in route.toml is refused with its file and line, exit code 2") {
    Cluster cluster;
    auto routes = std::string(demo_routes) + "\n[[im]]\nmsg_id = = 6\n";
    write_file(cluster.dir() / "route.toml", routes);
    auto output = check_refused(cluster);
    auto where = (cluster.dir() / "route.toml").string() + ":" +
                 std::to_string(line_of(routes, "msg_id = = 6")) + ":";
    CHECK_MESSAGE(contains(output, where), "expected " << where << " in:\n" << output);
}

TEST_CASE("an --id absent from dinx.toml is refused with exit code 2") {
    Cluster cluster;
    auto output = check_refused(cluster, {1, 9});
    CHECK(contains(output, "dinx.toml"));
    CHECK(contains(output, "id 9"));
}

TEST_CASE("an --id given twice is refused with exit code 2") {
    Cluster cluster;
    auto output = check_refused(cluster, {1, 1});
    CHECK(contains(output, "--id 1 is given twice"));
}

TEST_CASE("moving msgID 3 to group gate in route.toml makes the gate answer it, no code change") {
    DemoConf conf;
    conf.routes = replaced(conf.routes, "[[im]]\nmsg_id = 3", "[[gate]]\nmsg_id = 3");
    Cluster cluster(conf);
    // The gate alone: were msgID 3 still sent to group im, it would get an error frame.
    cluster.start_listening({1});
    auto client = connect_to_gate(cluster);
    log_in(client, "alice");
    client.send(3, "hello");
    auto reply = receive_frame(client);
    INFO(cluster.logs());
    CHECK(reply.msg_id == 3);
    CHECK(reply.payload == "gate-1: hello");
}

TEST_CASE("a SIGKILLed backend gives unavailable within 5 s and is used again once restarted") {
    DemoConf conf;
    conf.with_im2 = false;  // group im is im-1 alone: nothing to fail over to
    Cluster cluster(conf);
    // Backends first: see start_listening.
    auto& im1 = cluster.start_listening({2});
    auto& gate = cluster.start_listening({1});
    auto client = connect_to_gate(cluster);
    INFO(cluster.logs());
    log_in(client, "alice");

    client.send(3, "hello");  // brings the link up, so that the kill drops a live link
    CHECK(receive_frame(client).payload == "im-1: hello");

    im1.send_signal(SIGKILL);
    REQUIRE(im1.wait_for_exit(promised_bound) == 128 + SIGKILL);
    auto sent = steady_clock::now();
    client.send(3, "hello");
    auto error = receive_frame(client, promised_bound + 1s);
    auto elapsed = steady_clock::now() - sent;
    INFO("the reply: " << error.msg_id << " " << error.payload);
    CHECK(error.msg_id == error_msg_id);
    CHECK(contains(error.payload, "\"code\": \"unavailable\""));
    CHECK(contains(error.payload, "\"msg_id\": 3"));
    CHECK(elapsed < promised_bound);

    cluster.start_listening({2});  // same port, same gate
    // The gate may still be backing off from failed dials: retry, each request gets one frame.
    auto deadline = steady_clock::now() + 10s;
    std::string last;
    bool reused = false;
    while (!reused && steady_clock::now() < deadline) {
        client.send(3, "hello");
        last = receive_frame(client).payload;
        reused = last == "im-1: hello";
        if (!reused) std::this_thread::sleep_for(100ms);
    }
    CHECK_MESSAGE(reused, "the last reply was: " << last);
    CHECK(gate.running());
}

TEST_CASE("a taken gate port makes dinx-demo exit 1 saying it cannot start") {
    Cluster cluster;
    TakenPort taken(cluster.conf().gate_port);
    auto& gate = cluster.start({1});
    auto exit_code = gate.wait_for_exit(promised_bound);
    auto output = gate.read_output();
    INFO(output);
    REQUIRE(exit_code.has_value());
    CHECK(*exit_code == 1);
    CHECK(contains(output, "cannot start"));
}

TEST_CASE("the load tool reports no error, lost or out-of-order reply against the demo cluster") {
    Cluster cluster;
    // Backends first: see start_listening.
    cluster.start_listening({2});
    cluster.start_listening({3});
    cluster.start_listening({1});
    auto& load =
        cluster.start_tool({load_path(), "--port", std::to_string(cluster.conf().gate_port), "-c",
                            "8", "-d", "4", "--warmup", "0.5", "--duration", "2"},
                           "load");
    auto exit_code = load.wait_for_exit(20s);
    auto output = load.read_output();
    INFO(output << cluster.logs());
    REQUIRE(exit_code.has_value());
    CHECK(*exit_code == 0);
    CHECK(contains(output, "errors 0   lost 0   out-of-order 0"));
    CHECK(contains(output, "round trips/s: "));
    CHECK_FALSE(contains(output, "round trips/s: 0\n"));
}

TEST_CASE("the load tool holds idle connections until it is told to stop") {
    Cluster cluster;
    cluster.start_listening({1});
    auto& idle =
        cluster.start_tool({load_path(), "--port", std::to_string(cluster.conf().gate_port),
                            "--idle", "200", "--sources", "4", "--msg-id", "2"},
                           "idle");
    // msgID 2 (logout) answers on the gate itself: the one echo per connection needs no backend.
    // (Not a login: 200 logins of one name would replace each other, one login per uid.)
    auto deadline = steady_clock::now() + 10s;
    while (!contains(idle.read_output(), "IDLE connected=200") && steady_clock::now() < deadline &&
           idle.running())
        std::this_thread::sleep_for(20ms);
    INFO(idle.read_output() << cluster.logs());
    REQUIRE(contains(idle.read_output(), "IDLE connected=200"));
    idle.send_signal(SIGTERM);
    auto exit_code = idle.wait_for_exit(promised_bound);
    REQUIRE(exit_code.has_value());
    CHECK(*exit_code == 0);
    CHECK(contains(idle.read_output(), "IDLE held=200 dropped=0"));
}

TEST_CASE("the load tool's --login logs each connection in before the load, and checks it") {
    DemoConf conf;
    conf.with_im2 = false;
    Cluster cluster(conf);
    // Backends first: see start_listening.
    cluster.start_listening({2});
    cluster.start_listening({1});
    auto port = std::to_string(conf.gate_port);
    auto& load = cluster.start_tool({load_path(), "--port", port, "-c", "4", "-d", "2", "--login",
                                     "load-", "--warmup", "0", "--duration", "1"},
                                    "load");
    auto exit_code = load.wait_for_exit(20s);
    INFO(load.read_output() << cluster.logs());
    REQUIRE(exit_code.has_value());
    CHECK(*exit_code == 0);
    CHECK(contains(load.read_output(), "4 connections logged in as load-<i>"));
    CHECK(contains(load.read_output(), "errors 0   lost 0   out-of-order 0"));
    // A login the gate refuses (msgID 3 as the login: unauthenticated) stops the tool.
    auto& refused = cluster.start_tool({load_path(), "--port", port, "-c", "2", "--login", "x-",
                                        "--login-msg-id", "3", "--duration", "1"},
                                       "refused-load");
    CHECK(refused.wait_for_exit(20s) == 2);
    CHECK(contains(refused.read_output(), "was answered with msgID 4294967295"));
}

TEST_CASE(
    "nodes with different secrets do not link: requests get unavailable, the reason is logged") {
    DemoConf conf;
    conf.with_im2 = false;
    Cluster cluster(conf);
    auto& gate = cluster.start_listening({1}, {"DINX_CLUSTER_SECRET=secret-of-the-gate-0123"});
    cluster.start_listening({2}, {"DINX_CLUSTER_SECRET=another-secret-entirely-456"});
    auto client = connect_to_gate(cluster);
    log_in(client, "alice");  // on the gate: no link needed
    client.send(3, "hello");
    auto reply = receive_frame(client);
    INFO(cluster.logs());
    CHECK(reply.msg_id == error_msg_id);
    CHECK(contains(reply.payload, "\"code\": \"unavailable\""));
    // The refusal is logged as the link fails, which may come just after the error frame left.
    auto logged = [&] { return contains(gate.read_output(), "does not know the cluster secret"); };
    for (auto until = steady_clock::now() + 5s; !logged() && steady_clock::now() < until;)
        std::this_thread::sleep_for(20ms);
    CHECK(logged());
}

TEST_CASE("a secret_file named in dinx.toml links the nodes, and without a secret they warn") {
    DemoConf conf;
    Cluster cluster(conf);
    write_file(cluster.dir() / "cluster.key", "a secret shared through a file\n");
    write_file(cluster.dir() / "dinx.toml",
               "[cluster]\nsecret_file = \"cluster.key\"\n" + conf.nodes());
    // Backends first: see start_listening.
    cluster.start_listening({2});
    cluster.start_listening({3});
    auto& gate = cluster.start_listening({1});
    check_script_passes(cluster);
    CHECK_FALSE(contains(gate.read_output(), "NO CLUSTER SECRET"));

    Cluster open_cluster;  // no secret anywhere
    auto& lone = open_cluster.start_listening({1});
    INFO(lone.read_output());
    CHECK(contains(lone.read_output(), "NO CLUSTER SECRET"));
}

TEST_CASE("a SIGSTOPped backend is declared dead by heartbeats and its clients move to its peer") {
    DemoConf conf;
    Cluster cluster(conf);
    write_file(cluster.dir() / "dinx.toml",
               "[cluster]\nheartbeat_interval_ms = 300\n" + conf.nodes());
    // Backends first: see start_listening.
    auto& im1 = cluster.start_listening({2});
    cluster.start_listening({3});
    cluster.start_listening({1});
    std::deque<BlockingClient> clients;  // (not movable: a deque never relocates)
    for (int c = 0; c < 12; ++c) {
        clients.emplace_back("127.0.0.1", conf.gate_port, 2s);
        log_in(clients.back(), "player-" + std::to_string(c));
    }
    int on_im1 = 0;
    for (auto& client : clients) {
        client.send(3, "before");
        on_im1 += receive_frame(client).payload == "im-1: before";
    }
    REQUIRE(on_im1 > 0);
    im1.send_signal(SIGSTOP);  // no reset, no FIN: only the missing heartbeats tell
    REQUIRE(wait_until_stopped(im1.pid(), 5s));  // a signal is not delivered at once
    for (auto& client : clients) client.send(3, "during");
    // Each request gets its reply from im-2 or, if it was sent to the stopped im-1, an
    // outcome_unknown error once im-1 is declared dead (im-1 may have read it before it
    // stopped); then everyone is served by im-2.
    for (auto& client : clients) {
        auto frame = receive_frame(client, 5s);
        INFO(frame.payload);
        CHECK((frame.payload == "im-2: during" ||
               contains(frame.payload, "\"code\": \"outcome_unknown\"")));
    }
    for (auto& client : clients) {
        client.send(3, "after");
        CHECK(receive_frame(client).payload == "im-2: after");
    }
    im1.send_signal(SIGCONT);
}

TEST_CASE("a rolling restart of every im node under steady load gives no error frame") {
    // An operator restarts the next node once the gates link to the last one again; a gate
    // redials a node that went away within reconnect_max_ms (2 s by default), so the second's
    // pause below covers it only with a shorter cap (a slow start under a sanitizer once took
    // the back-off to 1.6 s, and both ims were away from the gates at once).
    DemoConf conf;
    conf.settings = "reconnect_max_ms = 200";
    Cluster cluster(conf);
    cluster.start_listening({1});
    std::map<std::uint32_t, ChildProcess*> ims{{2, &cluster.start_listening({2})},
                                               {3, &cluster.start_listening({3})}};
    auto& load =
        cluster.start_tool({load_path(), "--port", std::to_string(cluster.conf().gate_port), "-c",
                            "16", "-d", "4", "--warmup", "0", "--duration", "6"},
                           "load");
    for (auto& [id, process] : ims) {
        std::this_thread::sleep_for(1s);  // steady load on both before each restart
        check_signal_stops(*process, SIGTERM, cluster);
        process = &cluster.start_listening({id});
    }
    auto exit_code = load.wait_for_exit(30s);
    auto output = load.read_output();
    INFO(output << cluster.logs());
    REQUIRE(exit_code.has_value());
    CHECK(contains(output, "errors 0   lost 0   out-of-order 0"));
    CHECK(*exit_code == 0);
}

TEST_CASE("SIGTERM on a gate answers every request it took before it exits") {
    Cluster cluster;
    // Backends first: see start_listening.
    cluster.start_listening({2});
    cluster.start_listening({3});
    auto& gate = cluster.start_listening({1});
    auto client = connect_to_gate(cluster);
    log_in(client, "alice");
    dinx::ByteBuffer burst;
    for (int i = 0; i < 200; ++i)
        dinx::node::append_frame(burst, 3, dinx::as_bytes(std::to_string(i)));
    client.send_raw(burst);
    gate.send_signal(SIGTERM);
    // Every request gets its reply or an error frame, in order, then the gate closes.
    int replies = 0, errors = 0;
    for (int i = 0; i < 200; ++i) {
        auto frame = receive_frame(client);
        if (frame.msg_id == 3) {
            CHECK(frame.payload.substr(frame.payload.find(": ") + 2) == std::to_string(i));
            CHECK(errors == 0);  // no reply after an error: the gate stopped taking requests
            ++replies;
        } else {
            CHECK(contains(frame.payload, "\"code\": \"unavailable\""));
            ++errors;
        }
    }
    CHECK(replies + errors == 200);
    CHECK_FALSE(client.receive(promised_bound));
    CHECK(client.closed());
    auto exit_code = gate.wait_for_exit(promised_bound);
    REQUIRE(exit_code.has_value());
    CHECK(*exit_code == 0);
}

namespace {

/// CPU time (user + system) the process has used, from /proc/<pid>/stat, in clock ticks.
long cpu_ticks(pid_t pid) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    std::istringstream fields(text.substr(text.rfind(')') + 2));
    std::string field;
    long utime = 0, stime = 0;
    for (int i = 3; fields >> field; ++i) {  // field 3 is the state
        if (i == 14) utime = std::stol(field);
        if (i == 15) {
            stime = std::stol(field);
            break;
        }
    }
    return utime + stime;
}

}  // namespace

TEST_CASE("out of file descriptors, a gate pauses accepting instead of spinning, then recovers") {
    DemoConf conf;
    Cluster cluster(conf);
    // The gate gets 48 open files: a few dozen clients exhaust them.
    auto& gate = cluster.spawn_shell(
        "ulimit -n 48 && exec " + demo_path() + " --conf " + cluster.dir().string() + " --id 1",
        "gate-low-fd");
    REQUIRE(wait_for_port(conf.gate_port, start_timeout));
    std::deque<BlockingClient> clients;
    for (int c = 0; c < 60; ++c) clients.emplace_back("127.0.0.1", conf.gate_port, 2s);
    // Give accept time to hit EMFILE (the backlog keeps the rest waiting).
    auto before = cpu_ticks(gate.pid());
    std::this_thread::sleep_for(1s);
    auto used = cpu_ticks(gate.pid()) - before;
    INFO(cluster.logs());
    CHECK(contains(gate.read_output(), "Too many open files"));
    CHECK(used < sysconf(_SC_CLK_TCK) / 4);  // under a quarter of a core: not spinning
    // Free descriptors: the waiting connections are accepted and served.
    for (int c = 0; c < 40; ++c) clients.pop_front();
    for (auto& client : clients) {
        client.send(1, "late");
        CHECK(receive_frame(client).payload == "welcome late");
    }
    CHECK(gate.running());
}
