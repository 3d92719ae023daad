#pragma once
// What end-to-end tests share: the demo cluster of conf/ moved to free loopback ports, written
// to a temporary conf dir, its dinx-demo processes (killed when the test ends, whatever
// happened), and the checks the tests make of them. Include after <doctest/doctest.h>.
//
// Every wait is bounded and awaits a condition (a port accepting, a process exiting, a frame
// arriving); nothing sleeps a fixed time hoping the cluster caught up.

#include "node/blocking_client.hpp"
#include "node/frame_codec.hpp"
#include "tests/support/child_process.hpp"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace dinx::test::e2e {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using dinx::node::BlockingClient;
using dinx::node::Frame;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

/// The dinx-demo under test: $DINX_DEMO_PATH when set (to run these tests against another
/// build, such as the last release, to show what they catch), else the one built here.
inline std::string demo_path() {
    const char* from_env = std::getenv("DINX_DEMO_PATH");
    return from_env && *from_env ? from_env : DINX_DEMO_PATH;
}

/// The load tool built here.
inline std::string load_path() {
    return DINX_LOAD_PATH;
}

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

/// The players' part of conf/route.toml, to append to demo_routes: rooms, say, whisper and
/// members (7 to 11) and set (12) on im, get (13) on the gates, and im hears session events.
constexpr std::string_view demo_player_routes = R"(
[[im]]
msg_id = 7
name = "join"

[[im]]
msg_id = 8
name = "leave"

[[im]]
msg_id = 9
name = "say"

[[im]]
msg_id = 10
name = "whisper"

[[im]]
msg_id = 11
name = "members"

[[im]]
msg_id = 12
name = "set"

[[gate]]
msg_id = 13
name = "get"

[events]
groups = ["im"]
)";

/// The services' part of conf/route.toml (issue 10), to append to demo_routes: sign in (14),
/// score (15), leaderboard (16) and standing (17) on the gates, which call account and rank.
constexpr std::string_view demo_service_routes = R"(
[[gate]]
msg_id = 14
name = "sign_in"

[[gate]]
msg_id = 15
name = "score"

[[gate]]
msg_id = 16
name = "leaderboard"

[[gate]]
msg_id = 17
name = "standing"
)";

/// True when `part` occurs in `text`.
inline bool contains(std::string_view text, std::string_view part) {
    return text.find(part) != std::string_view::npos;
}

/// `text` with its first `from` replaced by `to`; the test's own text, so `from` must be there.
inline std::string replaced(std::string text, std::string_view from, std::string_view to) {
    auto at = text.find(from);
    REQUIRE_MESSAGE(at != std::string::npos, "'" << from << "' not in the text");
    return text.replace(at, from.size(), to);
}

/// The 1-based line on which `part` first starts in `text`.
inline int line_of(std::string_view text, std::string_view part) {
    auto at = text.find(part);
    REQUIRE(at != std::string_view::npos);
    return 1 + static_cast<int>(std::count(text.begin(), text.begin() + at, '\n'));
}

/// Writes `text` to `path`, replacing what was there.
inline void write_file(const fs::path& path, std::string_view text) {
    std::ofstream out(path, std::ios::binary);
    out << text;
    REQUIRE(out.good());
}

/// One node's [[group]] table of dinx.toml, on 127.0.0.1, after a blank line.
inline std::string node_table(std::string_view group, std::uint32_t id, std::string_view name,
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
    bool with_gate2 = false;          ///< true adds gate-2 (id 4) to group gate
    std::uint16_t gate2_port = 0;     ///< gate-2's client port
    /// gate-2's link port
    std::uint16_t gate2_link_port = 0;
    /// true adds account-1 (id 5, group account) and rank-1 (id 6, group rank)
    bool with_services = false;
    std::uint16_t account_port = 0;  ///< account-1's link port
    std::uint16_t rank_port = 0;     ///< rank-1's link port
    /// lines of dinx.toml's [cluster] table ("" writes no table)
    std::string settings;
    bool with_im1 = true;           ///< false leaves im-1 out (a reload that removes it)
    bool with_im3 = false;          ///< true adds im-3 (id 8, group im)
    std::uint16_t im3_port = 0;     ///< im-3's link port
    bool with_admin = false;        ///< true gives every node an admin_port
    /// Each node's admin port (ids 1 to 8), used when with_admin is set.
    std::map<std::uint32_t, std::uint16_t> admin_ports;

    /// Picks distinct free ports: the nodes' (gate-2's, then the services', then im-3's), then
    /// an admin port per node.
    DemoConf() {
        auto ports = free_ports(17);
        gate_port = ports[0];
        link_port = ports[1];
        im1_port = ports[2];
        im2_port = ports[3];
        gate2_port = ports[4];
        gate2_link_port = ports[5];
        account_port = ports[6];
        rank_port = ports[7];
        im3_port = ports[8];
        for (std::uint32_t id = 1; id <= 8; ++id) admin_ports[id] = ports[8 + id];
    }

    /// dinx.toml. The im nodes are `parallel`, as in conf/: their handlers keep no state.
    std::string nodes() const {
        const std::string im_parallel = "parallel = true\n";
        auto text = table("gate", 1, "gate-1", "frontend", gate_port) +
                    "link_port = " + std::to_string(link_port) + "\n";
        if (with_im1) text += table("im", 2, "im-1", "backend", im1_port) + im_parallel;
        if (with_im2) text += table("im", 3, "im-2", "backend", im2_port) + im_parallel;
        if (with_im3) text += table("im", 8, "im-3", "backend", im3_port) + im_parallel;
        if (with_gate2)
            text += table("gate", 4, "gate-2", "frontend", gate2_port) +
                    "link_port = " + std::to_string(gate2_link_port) + "\n";
        if (with_services)
            text += table("account", 5, "account-1", "backend", account_port) +
                    table("rank", 6, "rank-1", "backend", rank_port);
        if (!settings.empty()) text = "[cluster]\n" + settings + "\n" + text;
        return text;
    }

    /// One node's table, with its admin port when with_admin is set.
    std::string table(std::string_view group, std::uint32_t id, std::string_view name,
                      std::string_view type, std::uint16_t port) const {
        auto text = node_table(group, id, name, type, port);
        if (with_admin) text += "admin_port = " + std::to_string(admin_ports.at(id)) + "\n";
        return text;
    }

    /// The port a node listens on first: the client port of the gate, the link port of a backend.
    std::uint16_t port_of(std::uint32_t id) const {
        switch (id) {
            case 1:
                return gate_port;
            case 2:
                return im1_port;
            case 4:
                return gate2_port;
            case 5:
                return account_port;
            case 6:
                return rank_port;
            case 8:
                return im3_port;
            default:
                return im2_port;
        }
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
    /// Replaces the config and writes it (the nodes read it again on SIGHUP).
    void rewrite(DemoConf conf) {
        conf_ = std::move(conf);
        conf_.write(dir());
    }
    /// The conf dir.
    const fs::path& dir() const { return dir_.path(); }

    /// Starts `dinx-demo --conf DIR --id ... ARGS` (every node when `ids` is empty), with the
    /// environment variables `env` ("NAME=value") added.
    ChildProcess& start(const std::vector<std::uint32_t>& ids = {},
                        const std::vector<std::string>& env = {},
                        const std::vector<std::string>& args = {}) {
        std::vector<std::string> argv;
        if (!env.empty()) {
            argv.push_back("/usr/bin/env");
            argv.insert(argv.end(), env.begin(), env.end());
        }
        argv.insert(argv.end(), {demo_path(), "--conf", dir().string()});
        std::string name = "node";
        for (auto id : ids) {
            argv.insert(argv.end(), {"--id", std::to_string(id)});
            name += "-" + std::to_string(id);
        }
        argv.insert(argv.end(), args.begin(), args.end());
        return spawn(std::move(argv), ids.empty() ? "all-nodes" : name);
    }

    /// start() and wait until every node it runs listens. Tests that run one process per node
    /// start the backends first, as a deployment would: a gate dials every node soon after it
    /// starts (its presence goes to all), and one that found a node down fails requests for it
    /// until its next dial (reconnect_min_ms), which would be errors the test did not ask for.
    ChildProcess& start_listening(const std::vector<std::uint32_t>& ids = {},
                                  const std::vector<std::string>& env = {},
                                  const std::vector<std::string>& args = {}) {
        auto& process = start(ids, env, args);
        auto waited = ids.empty() ? std::vector<std::uint32_t>{1, 2, 3} : ids;
        if (!conf_.with_im1) std::erase(waited, 2u);
        if (!conf_.with_im2) std::erase(waited, 3u);
        if (conf_.with_gate2 && ids.empty()) waited.push_back(4);
        if (conf_.with_services && ids.empty()) waited.insert(waited.end(), {5, 6});
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

    /// Runs `dinx-demo client --script` (and `extra` options) against the gate and waits for it
    /// to finish.
    ScriptRun run_script(const std::vector<std::string>& extra = {}) {
        std::vector<std::string> argv{demo_path(),
                                      "client",
                                      "--script",
                                      "--host",
                                      "127.0.0.1",
                                      "--port",
                                      std::to_string(conf_.gate_port),
                                      "--timeout-ms",
                                      "3000"};
        argv.insert(argv.end(), extra.begin(), extra.end());
        auto& client = spawn(std::move(argv), "client");
        // 5 replies (9 with --services) of at most 3 s each, plus the connect.
        auto exit_code = client.wait_for_exit(30s);
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
inline void check_script_passes(Cluster& cluster) {
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
inline void check_signal_stops(ChildProcess& process, int signal, const Cluster& cluster) {
    auto sent = steady_clock::now();
    process.send_signal(signal);
    auto exit_code = process.wait_for_exit(promised_bound);
    INFO(process.command_line() << " after signal " << signal << ":" << cluster.logs());
    REQUIRE_MESSAGE(exit_code.has_value(), "still running 5 s after the signal");
    CHECK(*exit_code == 0);
    CHECK(steady_clock::now() - sent < promised_bound);
}

/// Starts dinx-demo on a config it must refuse: exit code 2, and the gate's port never opened.
/// Returns what it printed. The bound only tells a hang from an exit: a sanitized binary on a
/// busy machine may take seconds to check for leaks as it exits.
inline std::string check_refused(Cluster& cluster, const std::vector<std::uint32_t>& ids = {}) {
    auto& process = cluster.start(ids);
    auto exit_code = process.wait_for_exit(20s);
    auto output = process.read_output();
    INFO("output of " << process.command_line() << ":\n" << output);
    REQUIRE_MESSAGE(exit_code.has_value(), "still running 20 s after start");
    CHECK(*exit_code == 2);
    CHECK_FALSE(port_accepts(cluster.conf().gate_port));
    return output;
}

/// The next frame on `client`, which must arrive within `timeout`.
inline Frame receive_frame(BlockingClient& client, milliseconds timeout = promised_bound) {
    auto frame = client.receive(timeout);
    REQUIRE_MESSAGE(
        frame.has_value(),
        std::string(client.closed() ? "the gate closed the connection" : "no frame in time"));
    return *frame;
}

/// Logs `client` in as `name` (msgID 1, answered by the gate): the demo refuses send,
/// broadcast and relay (3, 4, 5) to a client that is not logged in.
inline void log_in(BlockingClient& client, const std::string& name) {
    client.send(1, name);
    auto welcome = receive_frame(client);
    REQUIRE_MESSAGE(welcome.payload == "welcome " + name, welcome.msg_id << " " << welcome.payload);
}

/// True once /proc says `pid` is stopped (state T), false after `timeout`.
inline bool wait_until_stopped(pid_t pid, milliseconds timeout) {
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

/// Waits until `process`'s output holds `part` `times` times, at most `timeout`.
inline bool wait_for_output(const ChildProcess& process, std::string_view part,
                            milliseconds timeout = promised_bound, std::size_t times = 1) {
    auto count = [&] {
        auto text = process.read_output();
        std::size_t found = 0;
        for (auto at = text.find(part); at != std::string::npos; at = text.find(part, at + 1))
            ++found;
        return found;
    };
    for (auto until = steady_clock::now() + timeout; steady_clock::now() < until;) {
        if (count() >= times) return true;
        std::this_thread::sleep_for(20ms);
    }
    return count() >= times;
}

/// A player connection to the cluster's gate.
inline BlockingClient connect_to_gate(const Cluster& cluster) {
    return BlockingClient("127.0.0.1", cluster.conf().gate_port, 2s);
}

/// A player connection to gate `gate_id` (1, or 4 for gate-2).
inline BlockingClient connect_to_gate(const Cluster& cluster, std::uint32_t gate_id) {
    return BlockingClient("127.0.0.1", cluster.conf().port_of(gate_id), 2s);
}

}  // namespace dinx::test::e2e
