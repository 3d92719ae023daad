// Tests of dict/config.hpp and dict/config_loader.hpp: loading, settings, and every mistake a
// config can hold, each pinned to the file and line the user has to fix.
//
// Inline TOML uses raw strings that start with a newline, so the first TOML line is line 2.

#include "dict/config.hpp"
#include "dict/config_loader.hpp"
#include "dict/topology.hpp"
#include "tests/support/test_configs.hpp"

#include <doctest/doctest.h>

#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

using dinx::dict::check_dialable_ports;
using dinx::dict::Config;
using dinx::dict::ConfigError;
using dinx::dict::EventGroup;
using dinx::dict::GroupId;
using dinx::dict::load_config;
using dinx::dict::LoginPolicy;
using dinx::dict::max_config_file_bytes;
using dinx::dict::max_secret_file_bytes;
using dinx::dict::NodeInfo;
using dinx::dict::NodeType;
using dinx::dict::parse_config;
using dinx::dict::Route;
using dinx::dict::Settings;
using dinx::dict::Topology;
using dinx::dict::validate;
using dinx::test::expect_error;
using dinx::test::gate_routes;
using dinx::test::has;
using dinx::test::one_gate;

TEST_CASE("the demo conf loads with its nodes, routes and settings") {
    Config config = load_config(std::filesystem::path(DINX_SOURCE_DIR) / "conf");

    REQUIRE(config.nodes.size() == 7);
    const NodeInfo& gate = config.nodes[0];
    CHECK(gate.id == 1);
    CHECK(gate.name == "gate-1");
    CHECK(gate.group == "gate");
    CHECK(gate.type == NodeType::frontend);
    CHECK(gate.host == "127.0.0.1");
    CHECK(gate.port == 10000);
    CHECK(gate.link_port == 10100);
    CHECK(gate.link_endpoint_port() == 10100);
    CHECK(config.nodes[1].name == "im-1");
    CHECK(config.nodes[1].type == NodeType::backend);
    CHECK(config.nodes[1].link_endpoint_port() == 20000);
    CHECK(config.nodes[1].parallel);
    CHECK(config.nodes[2].name == "im-2");
    CHECK(config.nodes[3].name == "gate-2");
    CHECK(config.nodes[3].port == 10001);
    CHECK(config.group_nodes("gate") == std::vector<std::uint32_t>{1, 4});
    CHECK(config.group_nodes("account") == std::vector<std::uint32_t>{5});
    CHECK(config.group_nodes("rank") == std::vector<std::uint32_t>{6, 7});
    for (const NodeInfo& node : config.nodes) CHECK(node.line > 0);

    CHECK(config.routes.size() == 17);
    CHECK(config.find_route(16)->name == "leaderboard");
    CHECK(config.find_route(6)->name == "echo");
    CHECK(config.find_route(9)->name == "say");
    CHECK(config.find_route(13)->group == "gate");
    REQUIRE(config.find_route(3) != nullptr);
    CHECK(config.find_route(3)->group == "im");
    CHECK(config.find_route(3)->name == "send");
    CHECK(config.find_route(1)->group == "gate");
    CHECK(config.find_route(99) == nullptr);

    CHECK(config.find_node(2)->name == "im-1");
    CHECK(config.find_node(99) == nullptr);
    CHECK(config.group_nodes("im") == std::vector<std::uint32_t>{2, 3});
    CHECK(config.group_nodes("chat").empty());

    CHECK(config.settings.max_packet_size == 65536);
    CHECK(config.settings.error_msg_id == 0xFFFF'FFFFu);
    REQUIRE(config.event_groups.size() == 1);
    CHECK(config.event_groups[0].name == "im");
    CHECK(config.event_groups[0].line > 0);
    CHECK(config.nodes_file.ends_with("dinx.toml"));
    CHECK(config.routes_file.ends_with("route.toml"));
}

TEST_CASE("nodes and routes keep file order even when groups interleave") {
    Config config = parse_config(R"(
[[im]]
id = 2
name = "im-1"
type = "backend"
host = "h"
port = 2

[[gate]]
id = 1
name = "gate-1"
type = "frontend"
host = "h"
port = 1
link_port = 11

[[im]]
id = 3
name = "im-2"
type = "backend"
host = "h"
port = 3
)",
                                 R"(
[[im]]
msg_id = 7
name = "b"

[[gate]]
msg_id = 5
name = "a"
)");
    REQUIRE(config.nodes.size() == 3);
    CHECK(config.nodes[0].id == 2);
    CHECK(config.nodes[0].line == 2);
    CHECK(config.nodes[1].id == 1);
    CHECK(config.nodes[1].line == 9);
    CHECK(config.nodes[2].id == 3);
    CHECK(config.nodes[2].line == 17);
    REQUIRE(config.routes.size() == 2);
    CHECK(config.routes[0].msg_id == 7);
    CHECK(config.routes[0].line == 2);
    CHECK(config.routes[1].msg_id == 5);
    CHECK(config.routes[1].line == 6);
}

TEST_CASE("settings are the defaults when [cluster] is absent") {
    Config config = parse_config(one_gate, gate_routes);
    Settings defaults;
    CHECK(config.settings.max_packet_size == defaults.max_packet_size);
    CHECK(config.settings.error_msg_id == defaults.error_msg_id);
    CHECK(config.settings.connect_timeout_ms == defaults.connect_timeout_ms);
    CHECK(config.settings.reconnect_min_ms == defaults.reconnect_min_ms);
    CHECK(config.settings.reconnect_max_ms == defaults.reconnect_max_ms);
    CHECK(config.settings.client_send_queue_bytes == defaults.client_send_queue_bytes);
    CHECK(config.settings.link_queue_limit == defaults.link_queue_limit);
    CHECK(config.settings.io_threads == defaults.io_threads);
    CHECK(config.settings.max_connections == defaults.max_connections);
    CHECK(config.settings.memory_budget_bytes == 256u << 20);
    CHECK(config.settings.client_frame_timeout_ms == defaults.client_frame_timeout_ms);
    CHECK(config.settings.login_policy == LoginPolicy::kick_older);
    CHECK(config.settings.kick_msg_id == 4294967294u);
    CHECK(config.event_groups.empty());
}

TEST_CASE("every [cluster] setting is read") {
    std::string nodes = R"(
[cluster]
max_packet_size = 1024
error_msg_id = 0
connect_timeout_ms = 500
reconnect_min_ms = 10
reconnect_max_ms = 40
client_send_queue_bytes = 2048
link_queue_limit = 8
io_threads = 3
max_connections = 77
heartbeat_interval_ms = 250
client_idle_timeout_ms = 9000
heartbeat_msg_id = 4242
link_queue_bytes = 65536
drain_timeout_ms = 1500
memory_budget_bytes = 33554432
client_max_in_flight = 9
client_max_in_flight_bytes = 4096
client_frame_timeout_ms = 700
client_first_frame_timeout_ms = 800
login_policy = "refuse_newer"
kick_msg_id = 7777
)" + std::string(one_gate);
    Settings s = parse_config(nodes, gate_routes).settings;
    CHECK(s.max_packet_size == 1024);
    CHECK(s.error_msg_id == 0);
    CHECK(s.connect_timeout_ms == 500);
    CHECK(s.reconnect_min_ms == 10);
    CHECK(s.reconnect_max_ms == 40);
    CHECK(s.client_send_queue_bytes == 2048);
    CHECK(s.memory_budget_bytes == 32u << 20);
    CHECK(s.client_max_in_flight == 9);
    CHECK(s.client_max_in_flight_bytes == 4096);
    CHECK(s.client_frame_timeout_ms == 700);
    CHECK(s.client_first_frame_timeout_ms == 800);
    CHECK(s.link_queue_limit == 8);
    CHECK(s.io_threads == 3);
    CHECK(s.max_connections == 77);
    CHECK(s.heartbeat_interval_ms == 250);
    CHECK(s.client_idle_timeout_ms == 9000);
    CHECK(s.heartbeat_msg_id == 4242);
    CHECK(s.link_queue_bytes == 65536);
    CHECK(s.drain_timeout_ms == 1500);
    CHECK(s.login_policy == LoginPolicy::refuse_newer);
    CHECK(s.kick_msg_id == 7777);
}

TEST_CASE("what() reads file:line: problem, or file: problem without a line") {
    CHECK(std::string(ConfigError("a.toml", 4, "bad").what()) == "a.toml:4: bad");
    CHECK(std::string(ConfigError("a.toml", 0, "bad").what()) == "a.toml: bad");
}

TEST_CASE("a toml syntax error names the line toml++ reports") {
    ConfigError err = expect_error(R"(
[[gate]]
id = 1
name = = "gate-1"
)");
    INFO(err.what());
    CHECK(err.file() == "dinx.toml");
    CHECK(err.line() == 4);
    CHECK(!err.problem().empty());
}

TEST_CASE("a syntax error in route.toml names route.toml") {
    ConfigError err = expect_error(one_gate, "\n[[gate]\n");
    INFO(err.what());
    CHECK(err.file() == "route.toml");
    CHECK(err.line() == 2);
}

TEST_CASE("an unknown key in a node names the key, its group and the expected keys") {
    ConfigError err = expect_error(R"(
[[im]]
id = 2
name = "im-1"
type = "backend"
host = "127.0.0.1"
prot = 20000
)");
    INFO(err.what());
    CHECK(err.file() == "dinx.toml");
    CHECK(err.line() == 7);
    CHECK(has(err,
              "unknown key 'prot' in a node of group 'im' "
              "(expected id, name, type, host, port, link_port, parallel, listeners, "
              "admin_port, admin_host, metrics_port, metrics_host)"));
}

TEST_CASE("an unknown key in a route names the key and the expected keys") {
    ConfigError err = expect_error(one_gate, R"(
[[gate]]
msg_id = 1
nmae = "login"
)");
    INFO(err.what());
    CHECK(err.file() == "route.toml");
    CHECK(err.line() == 4);
    CHECK(has(err, "unknown key 'nmae' in a route of group 'gate' (expected msg_id, name)"));
}

TEST_CASE("an unknown key in [cluster] lists the allowed settings") {
    ConfigError err = expect_error(R"(
[cluster]
max_packet_size = 1024
max_packet = 10
)");
    INFO(err.what());
    CHECK(err.file() == "dinx.toml");
    CHECK(err.line() == 4);
    CHECK(has(err, "unknown key 'max_packet' in [cluster]"));
    CHECK(has(err, "max_packet_size, error_msg_id"));
}

TEST_CASE("a setting out of range names the setting and its range") {
    ConfigError err = expect_error(R"(
[cluster]
io_threads = 300
)");
    INFO(err.what());
    CHECK(err.line() == 3);
    CHECK(has(err, "'io_threads' must be an integer from 0 to 256"));
}

TEST_CASE("a back-off cap below its start is rejected at reconnect_max_ms") {
    ConfigError err = expect_error(R"(
[cluster]
reconnect_min_ms = 500
reconnect_max_ms = 100
)");
    INFO(err.what());
    CHECK(err.line() == 4);
    CHECK(has(err, "'reconnect_max_ms' (100) must be at least 'reconnect_min_ms' (500)"));
}

TEST_CASE("a value of the wrong type names the key and what is expected") {
    ConfigError err = expect_error(R"(
[[gate]]
id = 1
name = "gate-1"
type = "frontend"
host = "127.0.0.1"
port = "10000"
link_port = 10100
)");
    INFO(err.what());
    CHECK(err.file() == "dinx.toml");
    CHECK(err.line() == 7);
    CHECK(has(err, "'port' must be an integer from 0 to 65535"));
}

TEST_CASE("a port above 65535 is out of range") {
    ConfigError err = expect_error(R"(
[[gate]]
id = 1
name = "gate-1"
type = "frontend"
host = "127.0.0.1"
port = 10000
link_port = 70000
)");
    INFO(err.what());
    CHECK(err.line() == 8);
    CHECK(has(err, "'link_port' must be an integer from 0 to 65535"));
}

TEST_CASE("a node type other than frontend or backend is rejected") {
    ConfigError err = expect_error(R"(
[[gate]]
id = 1
name = "gate-1"
type = "middle"
)");
    INFO(err.what());
    CHECK(err.line() == 5);
    CHECK(has(err, R"('type' must be "frontend" or "backend")"));
}

TEST_CASE("a missing required key is reported at the node's table") {
    ConfigError err = expect_error(R"(
[[gate]]
name = "gate-1"
)");
    INFO(err.what());
    CHECK(err.line() == 2);
    CHECK(has(err, "missing 'id' in a node of group 'gate'"));
}

TEST_CASE("a backend with a link_port is rejected at the link_port") {
    ConfigError err = expect_error(R"(
[[im]]
id = 2
name = "im-1"
type = "backend"
host = "127.0.0.1"
port = 20000
link_port = 20100
)");
    INFO(err.what());
    CHECK(err.line() == 8);
    CHECK(has(err, "'link_port' is only for frontend nodes"));
}

TEST_CASE("a frontend without a link_port is reported at its table") {
    ConfigError err = expect_error(R"(
# gates

[[gate]]
id = 1
name = "gate-1"
type = "frontend"
host = "127.0.0.1"
port = 10000
)");
    INFO(err.what());
    CHECK(err.line() == 4);
    CHECK(has(err, "missing 'link_port' in a node of group 'gate'"));
}

TEST_CASE("a group that is a plain table instead of an array of tables is rejected") {
    ConfigError err = expect_error(R"(
[gate]
id = 1
)");
    INFO(err.what());
    CHECK(err.line() == 2);
    CHECK(has(err, "'gate' must be an array of tables ([[gate]])"));
}

TEST_CASE("a group name outside [A-Za-z0-9_-] is rejected") {
    ConfigError err = expect_error(R"(
[["my gate"]]
id = 1
)");
    INFO(err.what());
    CHECK(err.line() == 2);
    CHECK(has(err, "group name 'my gate' must match"));
}

TEST_CASE("a duplicate node id names the second row's line and the first's") {
    ConfigError err = expect_error(R"(
[[gate]]
id = 1
name = "gate-1"
type = "frontend"
host = "127.0.0.1"
port = 10000
link_port = 10100

[[gate]]
id = 1
name = "gate-2"
type = "frontend"
host = "127.0.0.1"
port = 11000
link_port = 11100
)");
    INFO(err.what());
    CHECK(err.file() == "dinx.toml");
    CHECK(err.line() == 10);
    CHECK(has(err, "duplicate node id 1 (first at line 2)"));
}

TEST_CASE("a duplicate node name names the second row's line and the first's") {
    ConfigError err = expect_error(R"(
[[gate]]
id = 1
name = "gate-1"
type = "frontend"
host = "127.0.0.1"
port = 10000
link_port = 10100

[[im]]
id = 2
name = "gate-1"
type = "backend"
host = "127.0.0.1"
port = 20000
)");
    INFO(err.what());
    CHECK(err.line() == 10);
    CHECK(has(err, "duplicate node name 'gate-1' (first at line 2)"));
}

TEST_CASE("a backend port equal to a frontend's link_port on one host is a duplicate") {
    ConfigError err = expect_error(R"(
[[gate]]
id = 1
name = "gate-1"
type = "frontend"
host = "127.0.0.1"
port = 10000
link_port = 10100

[[im]]
id = 2
name = "im-1"
type = "backend"
host = "127.0.0.1"
port = 10100
)");
    INFO(err.what());
    CHECK(err.line() == 10);
    CHECK(has(err, "duplicate host:port 127.0.0.1:10100"));
    CHECK(has(err, "'gate-1' (first at line 2)"));
}

TEST_CASE("two backends on one host:port are a duplicate") {
    ConfigError err = expect_error(std::string(one_gate) + R"(
[[im]]
id = 3
name = "im-2"
type = "backend"
host = "127.0.0.1"
port = 20000
)");
    INFO(err.what());
    CHECK(err.line() == 17);
    CHECK(has(err, "duplicate host:port 127.0.0.1:20000"));
}

TEST_CASE("a frontend whose link_port equals its port is rejected") {
    ConfigError err = expect_error(R"(
[[gate]]
id = 1
name = "gate-1"
type = "frontend"
host = "127.0.0.1"
port = 10000
link_port = 10000
)");
    INFO(err.what());
    CHECK(err.line() == 2);
    CHECK(has(err, "'link_port' equal to 'port' (10000)"));
}

TEST_CASE("port 0 means any free port and is never a duplicate") {
    Config config = parse_config(R"(
[[gate]]
id = 1
name = "gate-1"
type = "frontend"
host = "127.0.0.1"
port = 0
link_port = 0

[[im]]
id = 2
name = "im-1"
type = "backend"
host = "127.0.0.1"
port = 0
)",
                                 gate_routes);
    CHECK(config.nodes.size() == 2);
}

TEST_CASE("a group mixing frontend and backend nodes is rejected at the odd node") {
    ConfigError err = expect_error(std::string(one_gate) + R"(
[[im]]
id = 3
name = "im-2"
type = "frontend"
host = "127.0.0.1"
port = 21000
link_port = 21100
)");
    INFO(err.what());
    CHECK(err.line() == 17);
    CHECK(has(err, "group 'im' mixes frontend and backend nodes"));
    CHECK(has(err, "'im-1' (first at line 10)"));
}

TEST_CASE("a cluster without a frontend is rejected with no line") {
    ConfigError err = expect_error(R"(
[[im]]
id = 2
name = "im-1"
type = "backend"
host = "127.0.0.1"
port = 20000
)");
    INFO(err.what());
    CHECK(err.file() == "dinx.toml");
    CHECK(err.line() == 0);
    CHECK(has(err, "the cluster has no frontend node"));
    CHECK(std::string(err.what()) == "dinx.toml: the cluster has no frontend node");
}

TEST_CASE("a route to a group with no node names the route's line") {
    ConfigError err = expect_error(one_gate, R"(
[[gate]]
msg_id = 1
name = "login"

[[chat]]
msg_id = 2
name = "say"
)");
    INFO(err.what());
    CHECK(err.file() == "route.toml");
    CHECK(err.line() == 6);
    CHECK(has(err, "group 'chat', which has no node"));
}

TEST_CASE("a msgID routed to two groups names the second route and the first's group") {
    ConfigError err = expect_error(one_gate, R"(
[[gate]]
msg_id = 1
name = "login"

[[im]]
msg_id = 1
name = "send"
)");
    INFO(err.what());
    CHECK(err.file() == "route.toml");
    CHECK(err.line() == 6);
    CHECK(has(err, "msg_id 1 ('send') is already routed to group 'gate' (first at line 2)"));
}

TEST_CASE("a msgID routed twice in one group is a duplicate") {
    ConfigError err = expect_error(one_gate, R"(
[[im]]
msg_id = 3
name = "send"

[[im]]
msg_id = 3
name = "send-again"
)");
    INFO(err.what());
    CHECK(err.line() == 6);
    CHECK(has(err, "already routed to group 'im' (first at line 2)"));
}

TEST_CASE("a route with the error frame's msgID is rejected") {
    std::string nodes = "\n[cluster]\nerror_msg_id = 9\n" + std::string(one_gate);
    ConfigError err = expect_error(nodes, R"(
[[im]]
msg_id = 9
name = "oops"
)");
    INFO(err.what());
    CHECK(err.file() == "route.toml");
    CHECK(err.line() == 2);
    CHECK(has(err, "reserved for error frames"));
}

TEST_CASE("a route's msg_id of the wrong type names msg_id") {
    ConfigError err = expect_error(one_gate, R"(
[[im]]
msg_id = -1
name = "send"
)");
    INFO(err.what());
    CHECK(err.line() == 3);
    CHECK(has(err, "'msg_id' must be an integer from 0 to 4294967295"));
}

TEST_CASE("validate checks hand-built configs and prints their line 0") {
    Config config;
    config.nodes.push_back(NodeInfo{.id = 1,
                                    .name = "a",
                                    .group = "gate",
                                    .type = NodeType::frontend,
                                    .host = "h",
                                    .port = 1,
                                    .link_port = 2});
    config.nodes.push_back(NodeInfo{.id = 1,
                                    .name = "b",
                                    .group = "gate",
                                    .type = NodeType::frontend,
                                    .host = "h",
                                    .port = 3,
                                    .link_port = 4});
    try {
        validate(config);
        FAIL("the duplicate id was accepted");
    } catch (const ConfigError& err) {
        CHECK(std::string(err.what()) == "dinx.toml: duplicate node id 1 (first at line 0)");
    }
    config.nodes[1].id = 2;
    config.routes.push_back(Route{.msg_id = 5, .name = "x", .group = "gate"});
    CHECK_NOTHROW(validate(config));
}

TEST_CASE("a missing file is reported by load_config with the file's path") {
    auto stamp = std::chrono::steady_clock::now().time_since_epoch().count();
    std::filesystem::path dir =
        std::filesystem::temp_directory_path() / ("dinx_config_test_" + std::to_string(stamp));
    std::filesystem::create_directories(dir);
    std::ofstream(dir / "dinx.toml") << one_gate;

    std::string routes_path = (dir / "route.toml").string();
    try {
        load_config(dir);
        FAIL("the missing route.toml was accepted");
    } catch (const ConfigError& err) {
        INFO(err.what());
        CHECK(err.file() == routes_path);
        CHECK(err.line() == 0);
        CHECK(has(err, "cannot read file: "));
    }
    std::filesystem::remove_all(dir);
}

namespace {

// A conf dir with one gate whose [cluster] table names `secret_file`, removed at the end.
struct SecretConf {
    std::filesystem::path dir;
    explicit SecretConf(const std::string& secret_file) {
        auto stamp = std::chrono::steady_clock::now().time_since_epoch().count();
        dir =
            std::filesystem::temp_directory_path() / ("dinx_secret_test_" + std::to_string(stamp));
        std::filesystem::create_directories(dir);
        std::ofstream(dir / "dinx.toml") << "[cluster]\nsecret_file = \"" << secret_file << "\"\n"
                                         << one_gate;
        std::ofstream(dir / "route.toml") << gate_routes;
    }
    ~SecretConf() { std::filesystem::remove_all(dir); }
    std::string nodes_file() const { return (dir / "dinx.toml").string(); }
};

}  // namespace

TEST_CASE("the cluster secret is read from secret_file, relative to the conf dir") {
    SecretConf conf("cluster.key");
    std::ofstream(conf.dir / "cluster.key") << "0123456789abcdef0123\n";
    Config config = load_config(conf.dir);
    CHECK(config.settings.secret == "0123456789abcdef0123");
    CHECK(config.settings.secret_file == "cluster.key");
}

TEST_CASE(
    "a secret_file other users may read gives a warning naming its line, a private one none") {
    SecretConf conf("cluster.key");
    auto key = conf.dir / "cluster.key";
    std::ofstream(key) << "0123456789abcdef0123\n";
    using std::filesystem::perms;
    std::filesystem::permissions(key, perms::owner_read | perms::owner_write);
    CHECK(load_config(conf.dir).warnings.empty());
    std::filesystem::permissions(
        key, perms::owner_read | perms::owner_write | perms::group_read | perms::others_read);
    auto warnings = load_config(conf.dir).warnings;
    REQUIRE(warnings.size() == 1);
    CHECK(warnings[0] == conf.nodes_file() +
                             ":2: secret_file 'cluster.key' has mode 644: other users of this "
                             "machine may read the cluster secret; chmod 600 it");
}

TEST_CASE("a missing secret_file names dinx.toml and the secret_file line") {
    SecretConf conf("absent.key");
    try {
        load_config(conf.dir);
        FAIL("the missing secret file was accepted");
    } catch (const ConfigError& err) {
        INFO(err.what());
        CHECK(err.file() == conf.nodes_file());
        CHECK(err.line() == 2);
        CHECK(has(err, "secret_file 'absent.key': cannot read file: "));
    }
}

TEST_CASE("an empty secret_file is refused") {
    SecretConf conf("empty.key");
    std::ofstream(conf.dir / "empty.key") << "\n";
    try {
        load_config(conf.dir);
        FAIL("the empty secret was accepted");
    } catch (const ConfigError& err) {
        CHECK(err.line() == 2);
        CHECK(has(err, "secret_file 'empty.key' is empty"));
    }
}

TEST_CASE("a route using the heartbeat msgID names the route's line") {
    ConfigError err = expect_error(one_gate, R"(
[[gate]]
msg_id = 99999
name = "ping"
)");
    CHECK(err.line() == 2);
    CHECK(has(err, "is reserved for client heartbeats"));
}

// ---- [cluster] msgIDs ---------------------------------------------------------------------------

TEST_CASE(
    "error_msg_id equal to heartbeat_msg_id is refused at heartbeat_msg_id, in either order") {
    ConfigError err = expect_error("\n[cluster]\nerror_msg_id = 7\nheartbeat_msg_id = 7\n" +
                                   std::string(one_gate));
    INFO(std::string(err.what()));
    CHECK(err.file() == "dinx.toml");
    CHECK(err.line() == 4);
    CHECK(has(err, "'heartbeat_msg_id' and 'error_msg_id' are both 7; they must differ"));

    err = expect_error("\n[cluster]\nheartbeat_msg_id = 7\nerror_msg_id = 7\n" +
                       std::string(one_gate));
    INFO(std::string(err.what()));
    CHECK(err.line() == 3);
    CHECK(has(err, "'heartbeat_msg_id' and 'error_msg_id' are both 7"));
}

TEST_CASE("one msgID set equal to the other's default is refused at the key that is written") {
    ConfigError err = expect_error("\n[cluster]\nmax_packet_size = 1024\nerror_msg_id = 99999\n" +
                                   std::string(one_gate));
    INFO(std::string(err.what()));
    CHECK(err.line() == 4);
    CHECK(has(err, "'heartbeat_msg_id' and 'error_msg_id' are both 99999"));

    err = expect_error("\n[cluster]\nmax_packet_size = 1024\nheartbeat_msg_id = 4294967295\n" +
                       std::string(one_gate));
    INFO(std::string(err.what()));
    CHECK(err.line() == 4);
    CHECK(has(err, "'heartbeat_msg_id' and 'error_msg_id' are both 4294967295"));
}

// ---- control characters -------------------------------------------------------------------------

namespace {

/// True when `text` holds a byte that could break or forge a log line.
bool has_control_byte(std::string_view text) {
    return std::ranges::any_of(text, [](char c) {
        auto byte = static_cast<unsigned char>(c);
        return byte < 0x20 || byte == 0x7f;
    });
}

/// one_gate with its first `from` replaced by `to`.
std::string one_gate_with(std::string_view from, std::string_view to) {
    std::string text(one_gate);
    auto at = text.find(from);
    REQUIRE(at != std::string::npos);
    return text.replace(at, from.size(), to);
}

}  // namespace

TEST_CASE("a control character in a node name is refused at the name's line, shown escaped") {
    ConfigError err = expect_error(one_gate_with(R"(name = "gate-1")", R"(name = "gate\n1")"));
    INFO(std::string(err.what()));
    CHECK(err.line() == 4);
    CHECK(has(err, R"('name' "gate\n1" must not contain control characters)"));
    CHECK_FALSE(has_control_byte(err.what()));

    err = expect_error(one_gate_with(R"(name = "gate-1")", R"(name = "gate\u007f")"));
    INFO(std::string(err.what()));
    CHECK(err.line() == 4);
    CHECK(has(err, R"("gate\x7f")"));
    CHECK_FALSE(has_control_byte(err.what()));

    // A raw newline inside a multi-line string: the line is where the value starts.
    err = expect_error(one_gate_with(R"(name = "gate-1")", "name = \"\"\"gate\n1\"\"\""));
    INFO(std::string(err.what()));
    CHECK(err.line() == 4);
    CHECK(has(err, R"("gate\n1")"));
    CHECK_FALSE(has_control_byte(err.what()));
}

TEST_CASE("a control character in a node host is refused at the host's line, shown escaped") {
    ConfigError err =
        expect_error(one_gate_with(R"(host = "127.0.0.1")", R"(host = "127.0.0.1\u0007")"));
    INFO(std::string(err.what()));
    CHECK(err.file() == "dinx.toml");
    CHECK(err.line() == 6);
    CHECK(has(err, R"('host' "127.0.0.1\x07" must not contain control characters)"));
    CHECK_FALSE(has_control_byte(err.what()));
}

TEST_CASE("a control character in a route name is refused at the name's line, shown escaped") {
    ConfigError err = expect_error(one_gate, R"(
[[gate]]
msg_id = 1
name = "log\tin\r"
)");
    INFO(std::string(err.what()));
    CHECK(err.file() == "route.toml");
    CHECK(err.line() == 4);
    CHECK(has(err, R"('name' "log\tin\r" must not contain control characters)"));
    CHECK_FALSE(has_control_byte(err.what()));
}

// ---- login_policy and kick_msg_id --------------------------------------------------------------

TEST_CASE("login_policy reads both words, and to_string writes them back") {
    for (std::string_view word : {"kick_older", "refuse_newer"}) {
        std::string nodes =
            "\n[cluster]\nlogin_policy = \"" + std::string(word) + "\"\n" + std::string(one_gate);
        Settings s = parse_config(nodes, gate_routes).settings;
        CHECK(to_string(s.login_policy) == word);
    }
}

TEST_CASE("a login_policy other than the two words names its line and the allowed values") {
    ConfigError err = expect_error("\n[cluster]\nio_threads = 1\nlogin_policy = \"kick_newer\"\n" +
                                   std::string(one_gate));
    INFO(std::string(err.what()));
    CHECK(std::string(err.what()) ==
          R"(dinx.toml:4: 'login_policy' must be "kick_older" or "refuse_newer")");

    err = expect_error("\n[cluster]\nlogin_policy = 1\n" + std::string(one_gate));
    CHECK(std::string(err.what()) ==
          R"(dinx.toml:3: 'login_policy' must be "kick_older" or "refuse_newer")");
}

TEST_CASE("an unknown key in [cluster] lists login_policy and kick_msg_id among the settings") {
    ConfigError err = expect_error("\n[cluster]\nlogin = \"kick_older\"\n" + std::string(one_gate));
    CHECK(err.line() == 3);
    CHECK(has(err,
              "kick_msg_id, call_timeout_ms, worker_threads, secret_file, login_policy, "
              "link_tls_cert, link_tls_key, link_tls_ca)"));
}

TEST_CASE("kick_msg_id equal to error_msg_id is refused at kick_msg_id, or at the key written") {
    ConfigError err =
        expect_error("\n[cluster]\nerror_msg_id = 7\nkick_msg_id = 7\n" + std::string(one_gate));
    INFO(std::string(err.what()));
    CHECK(std::string(err.what()) ==
          "dinx.toml:4: 'kick_msg_id' and 'error_msg_id' are both 7; they must differ, or clients "
          "could not tell a kick from an error frame");

    err = expect_error("\n[cluster]\nio_threads = 1\nerror_msg_id = 4294967294\n" +
                       std::string(one_gate));
    INFO(std::string(err.what()));
    CHECK(err.line() == 4);
    CHECK(has(err, "'kick_msg_id' and 'error_msg_id' are both 4294967294"));

    err = expect_error("\n[cluster]\nkick_msg_id = 4294967295\n" + std::string(one_gate));
    CHECK(err.line() == 3);
    CHECK(has(err, "'kick_msg_id' and 'error_msg_id' are both 4294967295"));
}

TEST_CASE(
    "kick_msg_id equal to heartbeat_msg_id is refused at kick_msg_id, or at the key written") {
    ConfigError err = expect_error("\n[cluster]\nkick_msg_id = 99999\n" + std::string(one_gate));
    INFO(std::string(err.what()));
    CHECK(std::string(err.what()) ==
          "dinx.toml:3: 'kick_msg_id' and 'heartbeat_msg_id' are both 99999; they must differ, "
          "or clients could not tell a kick from a heartbeat's answer");

    err = expect_error("\n[cluster]\nio_threads = 1\nheartbeat_msg_id = 4294967294\n" +
                       std::string(one_gate));
    CHECK(err.line() == 4);
    CHECK(has(err, "'kick_msg_id' and 'heartbeat_msg_id' are both 4294967294"));
}

TEST_CASE("a route using the kick msgID, default or set, names the route's line") {
    ConfigError err = expect_error(one_gate, R"(
[[gate]]
msg_id = 1
name = "login"

[[im]]
msg_id = 4294967294
name = "kick"
)");
    INFO(std::string(err.what()));
    CHECK(std::string(err.what()) ==
          "route.toml:6: msg_id 4294967294 ('kick') is reserved for kick frames "
          "(cluster.kick_msg_id)");

    err = expect_error("\n[cluster]\nkick_msg_id = 1\n" + std::string(one_gate), gate_routes);
    CHECK(err.file() == "route.toml");
    CHECK(err.line() == 2);
    CHECK(has(err, "msg_id 1 ('login') is reserved for kick frames (cluster.kick_msg_id)"));
}

// ---- route.toml [events] -----------------------------------------------------------------------

TEST_CASE("[events] lists its groups in file order, wherever it sits among the routes") {
    Config config = parse_config(one_gate, R"(
[[gate]]
msg_id = 1
name = "login"

[events]
groups = [
  "im",
  "gate",
]

[[im]]
msg_id = 3
name = "send"
)");
    REQUIRE(config.event_groups.size() == 2);
    CHECK(config.event_groups[0].name == "im");
    CHECK(config.event_groups[0].line == 8);
    CHECK(config.event_groups[1].name == "gate");
    CHECK(config.event_groups[1].line == 9);
    REQUIRE(config.routes.size() == 2);
    CHECK(config.routes[0].msg_id == 1);
    CHECK(config.routes[1].line == 12);

    Topology topology(config);
    CHECK(topology.event_groups() ==
          std::vector<GroupId>{*topology.find_group("im"), *topology.find_group("gate")});
}

TEST_CASE("no [events], or an empty groups array, means no group hears session events") {
    CHECK(Topology(parse_config(one_gate, gate_routes)).event_groups().empty());
    std::string routes = "\n[events]\ngroups = []\n" + std::string(gate_routes);
    CHECK(parse_config(one_gate, routes).event_groups.empty());
}

TEST_CASE("an [events] group with no node names the group's line") {
    ConfigError err = expect_error(one_gate, R"(
[events]
groups = [
  "im",
  "chat",
]
)");
    INFO(std::string(err.what()));
    CHECK(std::string(err.what()) ==
          "route.toml:5: [events] names group 'chat', which has no node in dinx.toml");
}

TEST_CASE("a group listed twice in [events] names the second and the first's line") {
    ConfigError err = expect_error(one_gate, "\n[events]\ngroups = [\"im\",\n\"gate\", \"im\"]\n");
    INFO(std::string(err.what()));
    CHECK(std::string(err.what()) ==
          "route.toml:4: [events] lists group 'im' twice (first at line 3)");
}

TEST_CASE("[events] groups that is not an array of strings is refused at the value") {
    std::string_view expected =
        R"('groups' in [events] must be an array of group names (strings), like groups = ["im"])";
    ConfigError err = expect_error(one_gate, "\n[events]\ngroups = \"im\"\n");
    INFO(std::string(err.what()));
    CHECK(err.file() == "route.toml");
    CHECK(err.line() == 3);
    CHECK(err.problem() == expected);

    err = expect_error(one_gate, "\n[events]\ngroups = [\n\"im\",\n3,\n]\n");
    INFO(std::string(err.what()));
    CHECK(err.line() == 5);
    CHECK(err.problem() == expected);

    err = expect_error(one_gate, "\n[events]\ngroups = [{ name = \"im\" }]\n");
    CHECK(err.line() == 3);
    CHECK(err.problem() == expected);
}

TEST_CASE("an unknown key in [events] names the key and the expected one") {
    ConfigError err = expect_error(one_gate, "\n[events]\ngroups = [\"im\"]\ngroup = [\"im\"]\n");
    INFO(std::string(err.what()));
    CHECK(std::string(err.what()) ==
          "route.toml:4: unknown key 'group' in [events] (expected groups)");
}

TEST_CASE("an [events] without groups is reported at its table") {
    ConfigError err = expect_error(one_gate, "\n# session events\n[events]\n");
    INFO(std::string(err.what()));
    CHECK(std::string(err.what()) == "route.toml:3: missing 'groups' in [events]");
}

TEST_CASE("a control character in an [events] group is refused, shown escaped") {
    ConfigError err = expect_error(one_gate, "\n[events]\ngroups = [\"i\\nm\"]\n");
    INFO(std::string(err.what()));
    CHECK(err.line() == 3);
    CHECK(has(err, R"('groups' "i\nm" must not contain control characters)"));
    CHECK_FALSE(has_control_byte(err.what()));
}

TEST_CASE("[[events]] in route.toml is refused: events is reserved, not a group") {
    ConfigError err = expect_error(one_gate, R"(
[[gate]]
msg_id = 1
name = "login"

[[events]]
msg_id = 2
name = "joined"
)");
    INFO(std::string(err.what()));
    CHECK(std::string(err.what()) ==
          "route.toml:6: 'events' is reserved for the groups that hear session events and must "
          "be a table ([events]), not a group");
}

TEST_CASE("a group named events in dinx.toml is refused at its line, as routes could not name it") {
    std::string_view expected =
        "'events' cannot be a group name: route.toml reserves [events] for the groups that hear "
        "session events, so no route could name this group";
    ConfigError err = expect_error(std::string(one_gate) + R"(
[[events]]
id = 9
name = "ev-1"
type = "backend"
host = "127.0.0.1"
port = 29000
)");
    INFO(std::string(err.what()));
    CHECK(err.file() == "dinx.toml");
    CHECK(err.line() == 17);
    CHECK(err.problem() == expected);

    err = expect_error("\n[events]\ngroups = [\"im\"]\n" + std::string(one_gate));
    CHECK(err.line() == 2);
    CHECK(err.problem() == expected);
}

TEST_CASE("validate checks the [events] groups of hand-built configs") {
    Config config;
    config.nodes.push_back(NodeInfo{.id = 1,
                                    .name = "a",
                                    .group = "gate",
                                    .type = NodeType::frontend,
                                    .host = "h",
                                    .port = 1,
                                    .link_port = 2});
    config.event_groups.push_back(EventGroup{.name = "gate"});
    CHECK_NOTHROW(validate(config));
    config.event_groups.push_back(EventGroup{.name = "im"});
    try {
        validate(config);
        FAIL("the unknown group was accepted");
    } catch (const ConfigError& err) {
        CHECK(std::string(err.what()) ==
              "route.toml: [events] names group 'im', which has no node in dinx.toml");
    }
}

// ---- ports other processes dial -----------------------------------------------------------------

namespace {

/// dinx.toml with gate-1 (`port` on line 7, `link_port` on line 8) and im-1 (`port` on line 15).
std::string two_nodes(int gate_port, int link_port, int im_port) {
    return "\n[[gate]]\nid = 1\nname = \"gate-1\"\ntype = \"frontend\"\nhost = \"127.0.0.1\"\n"
           "port = " +
           std::to_string(gate_port) + "\nlink_port = " + std::to_string(link_port) +
           "\n\n[[im]]\nid = 2\nname = \"im-1\"\ntype = \"backend\"\nhost = \"127.0.0.1\"\n"
           "port = " +
           std::to_string(im_port) + "\n";
}

/// check_dialable_ports for the nodes of `nodes_toml` with `ids` run in this process.
std::string dial_problem(const std::string& nodes_toml, std::vector<std::uint32_t> ids) {
    return check_dialable_ports(parse_config(nodes_toml, gate_routes), ids);
}

bool starts_with(std::string_view text, std::string_view prefix) {
    return text.substr(0, prefix.size()) == prefix;
}

}  // namespace

TEST_CASE("the lines of port and link_port are those of their keys") {
    Config config = parse_config(two_nodes(10000, 10100, 20000), gate_routes);
    CHECK(config.nodes[0].port_line == 7);
    CHECK(config.nodes[0].link_port_line == 8);
    CHECK(config.nodes[1].port_line == 15);
    CHECK(config.nodes[1].link_port_line == 0);
}

TEST_CASE("fixed ports pass check_dialable_ports whichever nodes run here") {
    auto nodes = two_nodes(10000, 10100, 20000);
    CHECK(dial_problem(nodes, {1, 2}) == "");
    CHECK(dial_problem(nodes, {1}) == "");
    CHECK(dial_problem(nodes, {2}) == "");
}

TEST_CASE("a frontend's port 0 is refused at its port line even when every node runs here") {
    auto nodes = two_nodes(0, 10100, 20000);
    std::string problem = dial_problem(nodes, {1, 2});
    INFO(problem);
    CHECK(starts_with(problem,
                      "dinx.toml:7: frontend 'gate-1' has 'port' 0 (any free port): "
                      "players could not know where to connect"));
    CHECK(starts_with(dial_problem(nodes, {2}), "dinx.toml:7: "));
}

TEST_CASE("a backend's port 0 is accepted when every node runs here, refused otherwise") {
    auto nodes = two_nodes(10000, 10100, 0);
    CHECK(dial_problem(nodes, {1, 2}) == "");
    std::string problem = dial_problem(nodes, {1});
    INFO(problem);
    CHECK(starts_with(problem,
                      "dinx.toml:15: backend 'im-1' has 'port' 0 (any free port): "
                      "nodes in other processes could not dial it"));
    // Run here but dialed by gate-1, which another process runs.
    CHECK(starts_with(dial_problem(nodes, {2}), "dinx.toml:15: "));
}

TEST_CASE("a frontend's link_port 0 is accepted when every node runs here, refused otherwise") {
    auto nodes = two_nodes(10000, 0, 20000);
    CHECK(dial_problem(nodes, {1, 2}) == "");
    std::string problem = dial_problem(nodes, {2});
    INFO(problem);
    CHECK(starts_with(problem,
                      "dinx.toml:8: frontend 'gate-1' has 'link_port' 0 (any free port): "
                      "nodes in other processes could not dial it"));
    CHECK(starts_with(dial_problem(nodes, {1}), "dinx.toml:8: "));
}

// ---- files that are not regular files, or too large ---------------------------------------------

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

/// A conf dir under the temp dir holding one_gate and gate_routes until a test replaces one;
/// removed with everything in it at the end.
class ConfDir {
public:
    ConfDir() {
        std::string pattern = (fs::temp_directory_path() / "dinx_files_test_XXXXXX").string();
        REQUIRE(::mkdtemp(pattern.data()) != nullptr);
        path_ = pattern;
        write("dinx.toml", one_gate);
        write("route.toml", gate_routes);
    }
    ~ConfDir() {
        std::error_code ignored;
        fs::remove_all(path_, ignored);
    }
    ConfDir(const ConfDir&) = delete;
    ConfDir& operator=(const ConfDir&) = delete;

    const fs::path& path() const { return path_; }
    /// The path of `name` in the dir, as error messages spell it.
    std::string file(std::string_view name) const { return (path_ / name).string(); }

    /// Replaces `name` by a regular file holding `text`.
    void write(std::string_view name, std::string_view text) const {
        fs::remove(path_ / name);
        std::ofstream out(path_ / name, std::ios::binary);
        out << text;
        REQUIRE(out.good());
    }
    /// Replaces `name` by a symbolic link to `target`.
    void link(std::string_view name, const fs::path& target) const {
        fs::remove(path_ / name);
        fs::create_symlink(target, path_ / name);
    }
    /// Replaces `name` by a FIFO nobody writes to.
    void make_fifo(std::string_view name) const {
        fs::remove(path_ / name);
        REQUIRE(::mkfifo((path_ / name).c_str(), 0600) == 0);
    }
    /// Replaces `name` by an empty directory.
    void make_dir(std::string_view name) const {
        fs::remove(path_ / name);
        fs::create_directory(path_ / name);
    }

private:
    fs::path path_;
};

/// load_config(dir)'s error, nullopt when it accepts the config. It runs on a thread of its own
/// that is left behind if it overruns 2 s, so that a loader blocked on a FIFO or reading a
/// device without end fails the test instead of hanging it.
std::optional<ConfigError> load_error_promptly(const fs::path& dir) {
    using Outcome = std::optional<ConfigError>;
    auto task = std::make_shared<std::packaged_task<Outcome()>>([dir]() -> Outcome {
        try {
            load_config(dir);
        } catch (const ConfigError& err) {
            return err;
        }
        return std::nullopt;
    });
    auto outcome = task->get_future();
    std::thread([task] { (*task)(); }).detach();
    if (outcome.wait_for(2s) == std::future_status::timeout)
        FAIL("load_config did not return within 2 s");
    return outcome.get();
}

/// load_error_promptly(), which must be an error.
ConfigError expect_load_error(const ConfDir& conf) {
    std::optional<ConfigError> err = load_error_promptly(conf.path());
    REQUIRE_MESSAGE(err.has_value(), "the config was accepted");
    return *err;
}

/// `text` followed by a comment that makes it exactly `size` bytes.
std::string padded(std::string_view text, std::size_t size) {
    std::string out(text);
    out += "\n#";
    REQUIRE(out.size() + 1 <= size);
    out.append(size - out.size() - 1, 'x');
    out += '\n';
    return out;
}

}  // namespace

TEST_CASE("/dev/zero as dinx.toml is refused as a character device, nothing read") {
    ConfDir conf;
    conf.link("dinx.toml", "/dev/zero");
    ConfigError err = expect_load_error(conf);
    INFO(std::string(err.what()));
    CHECK(err.file() == conf.file("dinx.toml"));
    CHECK(err.line() == 0);
    CHECK(err.problem() == "cannot read file: it is a character device, not a regular file");
}

TEST_CASE("/dev/zero as secret_file is refused at dinx.toml's secret_file line") {
    SecretConf conf("/dev/zero");
    std::optional<ConfigError> err = load_error_promptly(conf.dir);
    REQUIRE_MESSAGE(err.has_value(), "the config was accepted");
    INFO(std::string(err->what()));
    CHECK(err->file() == conf.nodes_file());
    CHECK(err->line() == 2);
    CHECK(err->problem() ==
          "secret_file '/dev/zero': cannot read file: it is a character device, not a regular "
          "file");
}

TEST_CASE("a FIFO as dinx.toml is refused at once instead of waiting for a writer") {
    ConfDir conf;
    conf.make_fifo("dinx.toml");
    auto started = std::chrono::steady_clock::now();
    ConfigError err = expect_load_error(conf);
    INFO(std::string(err.what()));
    CHECK(std::chrono::steady_clock::now() - started < 1s);
    CHECK(err.file() == conf.file("dinx.toml"));
    CHECK(err.line() == 0);
    CHECK(err.problem() == "cannot read file: it is a FIFO, not a regular file");
}

TEST_CASE("/dev/urandom as route.toml is refused as a character device, nothing read") {
    ConfDir conf;
    conf.link("route.toml", "/dev/urandom");
    ConfigError err = expect_load_error(conf);
    INFO(std::string(err.what()));
    CHECK(err.file() == conf.file("route.toml"));
    CHECK(err.line() == 0);
    CHECK(err.problem() == "cannot read file: it is a character device, not a regular file");
}

TEST_CASE("a directory as dinx.toml is refused as a directory") {
    ConfDir conf;
    conf.make_dir("dinx.toml");
    ConfigError err = expect_load_error(conf);
    INFO(std::string(err.what()));
    CHECK(err.file() == conf.file("dinx.toml"));
    CHECK(err.problem() == "cannot read file: it is a directory, not a regular file");
}

TEST_CASE("a dinx.toml of 1 MiB loads and one byte more is refused before it is read") {
    CHECK(max_config_file_bytes == 1024 * 1024);
    ConfDir conf;
    conf.write("dinx.toml", padded(one_gate, max_config_file_bytes));
    CHECK_FALSE(load_error_promptly(conf.path()).has_value());

    conf.write("dinx.toml", padded(one_gate, max_config_file_bytes + 1));
    ConfigError err = expect_load_error(conf);
    INFO(std::string(err.what()));
    CHECK(err.file() == conf.file("dinx.toml"));
    CHECK(err.line() == 0);
    CHECK(err.problem() == "cannot read file: it is 1048577 bytes, larger than the limit of 1 MiB");
}

TEST_CASE("a route.toml over 1 MiB whose size fstat does not tell is refused at the limit") {
    // /proc files are regular files that fstat sizes as 0; kallsyms holds several MiB.
    const fs::path source = "/proc/kallsyms";
    std::ifstream probe(source, std::ios::binary);
    std::string head(max_config_file_bytes + 1, '\0');
    probe.read(head.data(), static_cast<std::streamsize>(head.size()));
    if (probe.gcount() != static_cast<std::streamsize>(head.size())) {
        MESSAGE("skipped: this machine has no /proc/kallsyms over 1 MiB");
        return;
    }
    ConfDir conf;
    conf.link("route.toml", source);
    ConfigError err = expect_load_error(conf);
    INFO(std::string(err.what()));
    CHECK(err.file() == conf.file("route.toml"));
    CHECK(err.line() == 0);
    CHECK(err.problem() == "cannot read file: it is larger than the limit of 1 MiB");
}

TEST_CASE("a secret_file of 64 KiB is read and one byte more is refused at its line") {
    CHECK(max_secret_file_bytes == 64 * 1024);
    SecretConf conf("big.key");
    std::ofstream(conf.dir / "big.key") << std::string(max_secret_file_bytes, 's');
    std::optional<ConfigError> err = load_error_promptly(conf.dir);
    CHECK_FALSE(err.has_value());

    std::ofstream(conf.dir / "big.key") << std::string(max_secret_file_bytes + 1, 's');
    err = load_error_promptly(conf.dir);
    REQUIRE_MESSAGE(err.has_value(), "the config was accepted");
    INFO(std::string(err->what()));
    CHECK(err->file() == conf.nodes_file());
    CHECK(err->line() == 2);
    CHECK(err->problem() ==
          "secret_file 'big.key': cannot read file: it is 65537 bytes, larger than the limit of "
          "64 KiB");
}

TEST_CASE("parallel is read on a backend and refused on a frontend or when not a boolean") {
    std::string parallel_im = std::string(one_gate) + "parallel = true\n";
    Config config = parse_config(parallel_im, gate_routes);
    CHECK(config.find_node(2)->parallel);
    CHECK_FALSE(parse_config(one_gate, gate_routes).find_node(2)->parallel);

    ConfigError err = expect_error(std::string(one_gate) + "parallel = 1\n");
    CHECK(err.line() == 16);
    CHECK(has(err, "'parallel' must be true or false"));

    std::string parallel_gate(one_gate);
    parallel_gate.insert(parallel_gate.find("\n\n[[im]]"), "\nparallel = false");
    err = expect_error(parallel_gate);
    CHECK(err.line() == 9);
    CHECK(has(err, "'parallel' is only for backend nodes; frontend 'gate-1'"));
}
