// End-to-end tests: real dinx-demo processes, started from a temporary conf dir on free loopback
// ports, driven by the demo client and by a BlockingClient, stopped by signals.
//
// Every wait is bounded and awaits a condition (a port accepting, a process exiting, a frame
// arriving); nothing sleeps a fixed time hoping the cluster caught up.

#include "node/blocking_client.hpp"
#include "node/frame_codec.hpp"
#include "tests/support/child_process.hpp"

#include <doctest/doctest.h>

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

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using dinx::node::BlockingClient;
using dinx::node::Frame;
using dinx::test::ChildProcess;
using dinx::test::free_ports;
using dinx::test::port_accepts;
using dinx::test::TakenPort;
using dinx::test::TempDir;
using dinx::test::wait_for_port;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

constexpr const char* demo_path = DINX_DEMO_PATH;
constexpr const char* load_path = DINX_LOAD_PATH;

/// The msgID of error frames when dinx.toml does not change it.
constexpr std::uint32_t error_msg_id = 0xFFFF'FFFF;

/// The longest a stop signal, a refused config or an unreachable backend may take (the issue's
/// bound for each).
constexpr milliseconds promised_bound = 5s;

/// How long a node may take to open its ports: generous, a loaded CI machine is slow to exec.
constexpr milliseconds start_timeout = 10s;

/// route.toml of conf/. The raw string starts with a newline, so its first TOML line is line 2.
constexpr std::string_view demo_routes = R"(
[[gate]]
msg_id = 1
name = "login"

[[gate]]
msg_id = 2
name = "logout"

[[im]]
msg_id = 3
name = "send"

[[im]]
msg_id = 4
name = "broadcast"

[[im]]
msg_id = 5
name = "relay"

[[im]]
msg_id = 6
name = "echo"
)";

/// True when `part` occurs in `text`.
bool contains(std::string_view text, std::string_view part) {
    return text.find(part) != std::string_view::npos;
}

/// `text` with its first `from` replaced by `to`; the test's own text, so `from` must be there.
std::string replaced(std::string text, std::string_view from, std::string_view to) {
    auto at = text.find(from);
    REQUIRE_MESSAGE(at != std::string::npos, "'" << from << "' not in the text");
    return text.replace(at, from.size(), to);
}

/// The 1-based line on which `part` first starts in `text`.
int line_of(std::string_view text, std::string_view part) {
    auto at = text.find(part);
    REQUIRE(at != std::string_view::npos);
    return 1 + static_cast<int>(std::count(text.begin(), text.begin() + at, '\n'));
}

/// Writes `text` to `path`, replacing what was there.
void write_file(const fs::path& path, std::string_view text) {
    std::ofstream out(path, std::ios::binary);
    out << text;
    REQUIRE(out.good());
}

/// One node's [[group]] table of dinx.toml, on 127.0.0.1, after a blank line.
std::string node_table(std::string_view group, std::uint32_t id, std::string_view name,
                       std::string_view type, std::uint16_t port) {
    std::string text = "\n[[" + std::string(group) + "]]\n";
    text += "id = " + std::to_string(id) + "\n";
    text += "name = \"" + std::string(name) + "\"\n";
    text += "type = \"" + std::string(type) + "\"\n";
    text += "host = \"127.0.0.1\"\n";
    text += "port = " + std::to_string(port) + "\n";
    return text;
}

/// The demo cluster of conf/ (gate-1, im-1, im-2), moved to free loopback ports.
struct DemoConf {
    std::uint16_t gate_port = 0;      ///< gate-1's client port
    std::uint16_t link_port = 0;      ///< gate-1's link port
    std::uint16_t im1_port = 0;       ///< im-1's link port
    std::uint16_t im2_port = 0;       ///< im-2's link port
    bool with_im2 = true;             ///< false leaves group im with im-1 alone
    std::string routes{demo_routes};  ///< route.toml

    /// Picks four distinct free ports.
    DemoConf() {
        auto ports = free_ports(4);
        gate_port = ports[0];
        link_port = ports[1];
        im1_port = ports[2];
        im2_port = ports[3];
    }

    /// dinx.toml.
    std::string nodes() const {
        auto text = node_table("gate", 1, "gate-1", "frontend", gate_port) +
                    "link_port = " + std::to_string(link_port) + "\n" +
                    node_table("im", 2, "im-1", "backend", im1_port);
        if (with_im2) text += node_table("im", 3, "im-2", "backend", im2_port);
        return text;
    }

    /// The port a node listens on first: the client port of the gate, the link port of a backend.
    std::uint16_t port_of(std::uint32_t id) const {
        return id == 1 ? gate_port : id == 2 ? im1_port : im2_port;
    }

    /// Writes dinx.toml and route.toml into `dir`.
    void write(const fs::path& dir) const {
        write_file(dir / "dinx.toml", nodes());
        write_file(dir / "route.toml", routes);
    }
};

/// What the scripted demo client did.
struct ScriptRun {
    std::optional<int> exit_code;  ///< nullopt when it did not finish in time
    std::string output;            ///< the conversation it printed
};

/// One test's cluster: a temporary dir with the conf and every process's output, and the
/// processes started from it (killed when the test ends, whatever happened).
class Cluster {
public:
    /// Writes `conf` into a fresh temporary dir.
    explicit Cluster(DemoConf conf = {}) : conf_(std::move(conf)) { conf_.write(dir_.path()); }

    /// The config the nodes run.
    const DemoConf& conf() const { return conf_; }
    /// The conf dir.
    const fs::path& dir() const { return dir_.path(); }

    /// Starts `dinx-demo --conf DIR --id ...` (every node when `ids` is empty), with the
    /// environment variables `env` ("NAME=value") added.
    ChildProcess& start(const std::vector<std::uint32_t>& ids = {},
                        const std::vector<std::string>& env = {}) {
        std::vector<std::string> argv;
        if (!env.empty()) {
            argv.push_back("/usr/bin/env");
            argv.insert(argv.end(), env.begin(), env.end());
        }
        argv.insert(argv.end(), {demo_path, "--conf", dir().string()});
        std::string name = "node";
        for (auto id : ids) {
            argv.insert(argv.end(), {"--id", std::to_string(id)});
            name += "-" + std::to_string(id);
        }
        return spawn(std::move(argv), ids.empty() ? "all-nodes" : name);
    }

    /// start() and wait until every node it runs listens.
    ChildProcess& start_listening(const std::vector<std::uint32_t>& ids = {},
                                  const std::vector<std::string>& env = {}) {
        auto& process = start(ids, env);
        auto waited = ids.empty() ? std::vector<std::uint32_t>{1, 2, 3} : ids;
        if (!conf_.with_im2) std::erase(waited, 3u);
        for (auto id : waited) {
            INFO(logs());
            REQUIRE_MESSAGE(wait_for_port(conf_.port_of(id), start_timeout),
                            "node " << id << " does not listen on " << conf_.port_of(id));
        }
        // Another program that grabbed one of our free ports would answer the wait above while
        // our node exited with "cannot start": say so here, not with a puzzling failure later.
        INFO(logs());
        REQUIRE_MESSAGE(process.running(), "the node exited during start-up");
        return process;
    }

    /// Runs `dinx-demo client --script` against the gate and waits for it to finish.
    ScriptRun run_script() {
        auto& client = spawn({demo_path, "client", "--script", "--host", "127.0.0.1", "--port",
                              std::to_string(conf_.gate_port), "--timeout-ms", "3000"},
                             "client");
        // 5 replies of at most 3 s each, plus the connect.
        auto exit_code = client.wait_for_exit(20s);
        return {exit_code, client.read_output()};
    }

    /// Runs `command` with /bin/sh (to set limits first); its output joins the cluster's logs.
    ChildProcess& spawn_shell(const std::string& command, const std::string& name) {
        return spawn({"/bin/sh", "-c", command}, name);
    }

    /// Starts another program (the load tool) whose output joins the cluster's logs.
    ChildProcess& start_tool(std::vector<std::string> argv, const std::string& name) {
        return spawn(std::move(argv), name);
    }

    /// Everything every process printed, for failure messages.
    std::string logs() const {
        std::string text;
        for (const auto& process : processes_)
            text += "\n==== " + process.command_line() + "\n" + process.read_output();
        return text;
    }

private:
    ChildProcess& spawn(std::vector<std::string> argv, const std::string& name) {
        // Numbered, so that a restarted node does not overwrite the log of its first life.
        auto file = dir() / (std::to_string(processes_.size()) + "-" + name + ".log");
        return processes_.emplace_back(std::move(argv), file);
    }

    TempDir dir_{"dinx-e2e-"};
    DemoConf conf_;
    std::deque<ChildProcess> processes_;  // a deque keeps references valid as it grows
};

/// The scripted client passes against `cluster`: every reply of the conversation arrived.
void check_script_passes(Cluster& cluster) {
    auto run = cluster.run_script();
    INFO("client output:\n" << run.output);
    INFO("node logs:" << cluster.logs());
    REQUIRE_MESSAGE(run.exit_code.has_value(), "the client did not finish within 20 s");
    CHECK(*run.exit_code == 0);
    CHECK(contains(run.output, "welcome alice"));
    CHECK(contains(run.output, " via "));
    CHECK(contains(run.output, "bye alice"));
    CHECK(contains(run.output, "5/5 replies as expected"));
}

/// Sends `signal` and checks the process exits with code 0 within the promised bound.
void check_signal_stops(ChildProcess& process, int signal, const Cluster& cluster) {
    auto sent = steady_clock::now();
    process.send_signal(signal);
    auto exit_code = process.wait_for_exit(promised_bound);
    INFO(process.command_line() << " after signal " << signal << ":" << cluster.logs());
    REQUIRE_MESSAGE(exit_code.has_value(), "still running 5 s after the signal");
    CHECK(*exit_code == 0);
    CHECK(steady_clock::now() - sent < promised_bound);
}

/// Starts dinx-demo on a config it must refuse: exit code 2 within 5 s, and the gate's port
/// never opened. Returns what it printed.
std::string check_refused(Cluster& cluster, const std::vector<std::uint32_t>& ids = {}) {
    auto& process = cluster.start(ids);
    auto exit_code = process.wait_for_exit(promised_bound);
    auto output = process.read_output();
    INFO("output of " << process.command_line() << ":\n" << output);
    REQUIRE_MESSAGE(exit_code.has_value(), "still running 5 s after start");
    CHECK(*exit_code == 2);
    CHECK_FALSE(port_accepts(cluster.conf().gate_port));
    return output;
}

/// The next frame on `client`, which must arrive within `timeout`.
Frame receive_frame(BlockingClient& client, milliseconds timeout = promised_bound) {
    auto frame = client.receive(timeout);
    REQUIRE_MESSAGE(
        frame.has_value(),
        std::string(client.closed() ? "the gate closed the connection" : "no frame in time"));
    return *frame;
}

/// True once /proc says `pid` is stopped (state T), false after `timeout`.
bool wait_until_stopped(pid_t pid, milliseconds timeout) {
    auto deadline = steady_clock::now() + timeout;
    while (steady_clock::now() < deadline) {
        std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
        std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
        auto close_paren = text.rfind(')');  // the state follows "pid (comm) "
        if (close_paren != std::string::npos && close_paren + 2 < text.size() &&
            text[close_paren + 2] == 'T')
            return true;
        std::this_thread::sleep_for(5ms);
    }
    return false;
}

/// A player connection to the cluster's gate.
BlockingClient connect_to_gate(const Cluster& cluster) {
    return BlockingClient("127.0.0.1", cluster.conf().gate_port, 2s);
}

}  // namespace

TEST_CASE("the demo script passes against one process per node") {
    Cluster cluster;
    cluster.start_listening({1});
    cluster.start_listening({2});
    cluster.start_listening({3});
    check_script_passes(cluster);
}

TEST_CASE("the demo script passes against every node in one process") {
    Cluster cluster;
    cluster.start_listening();
    check_script_passes(cluster);
}

TEST_CASE("SIGTERM stops every node process with exit code 0 within 5 seconds") {
    Cluster cluster;
    auto& gate = cluster.start_listening({1});
    auto& im1 = cluster.start_listening({2});
    auto& im2 = cluster.start_listening({3});
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
    auto& gate = cluster.start_listening({1});
    auto& im1 = cluster.start_listening({2});
    auto client = connect_to_gate(cluster);
    INFO(cluster.logs());

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
    cluster.start_listening({1});
    cluster.start_listening({2});
    cluster.start_listening({3});
    auto& load = cluster.start_tool({load_path, "--port", std::to_string(cluster.conf().gate_port),
                                     "-c", "8", "-d", "4", "--warmup", "0.5", "--duration", "2"},
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
    auto& idle = cluster.start_tool({load_path, "--port", std::to_string(cluster.conf().gate_port),
                                     "--idle", "200", "--sources", "4", "--msg-id", "1"},
                                    "idle");
    // msgID 1 (login) answers on the gate itself: the one echo per connection needs no backend.
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

TEST_CASE(
    "nodes with different secrets do not link: requests get unavailable, the reason is logged") {
    DemoConf conf;
    conf.with_im2 = false;
    Cluster cluster(conf);
    auto& gate = cluster.start_listening({1}, {"DINX_CLUSTER_SECRET=secret-of-the-gate-0123"});
    cluster.start_listening({2}, {"DINX_CLUSTER_SECRET=another-secret-entirely-456"});
    auto client = connect_to_gate(cluster);
    client.send(3, "hello");
    auto reply = receive_frame(client);
    INFO(cluster.logs());
    CHECK(reply.msg_id == error_msg_id);
    CHECK(contains(reply.payload, "\"code\": \"unavailable\""));
    CHECK(contains(gate.read_output(), "does not know the cluster secret"));
}

TEST_CASE("a secret_file named in dinx.toml links the nodes; without a secret they warn") {
    DemoConf conf;
    Cluster cluster(conf);
    write_file(cluster.dir() / "cluster.key", "a secret shared through a file\n");
    write_file(cluster.dir() / "dinx.toml",
               "[cluster]\nsecret_file = \"cluster.key\"\n" + conf.nodes());
    auto& gate = cluster.start_listening({1});
    cluster.start_listening({2});
    cluster.start_listening({3});
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
    cluster.start_listening({1});
    auto& im1 = cluster.start_listening({2});
    cluster.start_listening({3});
    std::deque<BlockingClient> clients;  // (not movable: a deque never relocates)
    for (int c = 0; c < 12; ++c) clients.emplace_back("127.0.0.1", conf.gate_port, 2s);
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
    // unavailable error once im-1 is declared dead; then everyone is served by im-2.
    for (auto& client : clients) {
        auto frame = receive_frame(client, 5s);
        INFO(frame.payload);
        CHECK((frame.payload == "im-2: during" ||
               contains(frame.payload, "\"code\": \"unavailable\"")));
    }
    for (auto& client : clients) {
        client.send(3, "after");
        CHECK(receive_frame(client).payload == "im-2: after");
    }
    im1.send_signal(SIGCONT);
}

TEST_CASE("a rolling restart of every im node under steady load gives no error frame") {
    Cluster cluster;
    cluster.start_listening({1});
    std::map<std::uint32_t, ChildProcess*> ims{{2, &cluster.start_listening({2})},
                                               {3, &cluster.start_listening({3})}};
    auto& load = cluster.start_tool({load_path, "--port", std::to_string(cluster.conf().gate_port),
                                     "-c", "16", "-d", "4", "--warmup", "0", "--duration", "6"},
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
    auto& gate = cluster.start_listening({1});
    cluster.start_listening({2});
    cluster.start_listening({3});
    auto client = connect_to_gate(cluster);
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
    auto& gate = cluster.spawn_shell("ulimit -n 48 && exec " + std::string(demo_path) + " --conf " +
                                         cluster.dir().string() + " --id 1",
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
