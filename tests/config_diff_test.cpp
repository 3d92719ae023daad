// Tests of what a live reload reads from dict: the admin and metrics keys of a node, a config's
// version, the diff between two configs, and topology snapshots that keep ids across reloads.
//
// Inline TOML starts with a newline, so the first TOML line is line 2.

#include "dict/config_diff.hpp"
#include "dict/topology.hpp"
#include "tests/support/test_configs.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

using dinx::dict::Config;
using dinx::dict::diff_configs;
using dinx::dict::parse_config;
using dinx::dict::Topology;
using dinx::test::expect_error;
using dinx::test::gate_routes;
using dinx::test::has;
using dinx::test::one_gate;

namespace {

/// one_gate with `extra` lines added to im-1's table.
std::string im_with(const std::string& extra) {
    return std::string(one_gate) + extra;
}

bool mentions(const std::vector<std::string>& lines, std::string_view part) {
    return std::ranges::any_of(lines, [&](const auto& line) {
        return line.find(part) != std::string::npos;
    });
}

/// one_gate's nodes plus im-2, and `routes`.
Config two_ims(std::string_view routes) {
    return parse_config(std::string(one_gate) +
                            "\n[[im]]\nid = 3\nname = \"im-2\"\ntype = \"backend\"\n"
                            "host = \"127.0.0.1\"\nport = 21000\n",
                        routes);
}

constexpr std::string_view im_routes = R"(
[[gate]]
msg_id = 1
name = "login"

[[im]]
msg_id = 3
name = "send"
)";

}  // namespace

TEST_CASE("a node's admin and metrics ports are read with their hosts, loopback by default") {
    auto config = parse_config(im_with("admin_port = 9202\nmetrics_port = 9102\n"
                                       "metrics_host = \"0.0.0.0\"\n"),
                               gate_routes);
    const auto& im = config.nodes[1];
    REQUIRE(im.admin_port.has_value());
    CHECK(*im.admin_port == 9202);
    CHECK(im.admin_host == "127.0.0.1");
    CHECK(*im.metrics_port == 9102);
    CHECK(im.metrics_host == "0.0.0.0");
    CHECK(im.admin_port_line == 16);
    CHECK_FALSE(config.nodes[0].admin_port.has_value());
}

TEST_CASE("an admin_host without admin_port is refused at its line") {
    auto err = expect_error(im_with("admin_host = \"127.0.0.1\"\n"));
    CHECK(err.line() == 16);
    CHECK(has(err, "'admin_host' needs 'admin_port'"));
}

TEST_CASE("an admin_port another node already uses is refused at the admin_port line") {
    auto err = expect_error(im_with("admin_port = 10000\n"));
    CHECK(err.line() == 16);
    CHECK(has(err, "admin_port 10000 of node 'im-1' is already used by node 'gate-1'"));
    auto text = expect_error(im_with("metrics_port = \"9100\"\n"));
    CHECK(text.line() == 16);
}

TEST_CASE("the same tables give the same version, whatever the comments, order or secret") {
    auto config = parse_config(one_gate, im_routes);
    auto reordered = parse_config(std::string("# the cluster\n") + std::string(one_gate), R"(
[[im]]
msg_id = 3
name = "send"   # comments do not count

[[gate]]
msg_id = 1
name = "login"
)");
    reordered.settings.secret = "another secret";
    CHECK(dinx::dict::config_version(config) == dinx::dict::config_version(reordered));
    CHECK(dinx::dict::config_version(config).size() == 16);
    auto moved = parse_config(one_gate, R"(
[[gate]]
msg_id = 1
name = "login"

[[gate]]
msg_id = 3
name = "send"
)");
    CHECK(dinx::dict::config_version(moved) != dinx::dict::config_version(config));
    auto tuned = config;
    tuned.settings.call_timeout_ms = 1234;
    CHECK(dinx::dict::config_version(tuned) != dinx::dict::config_version(config));
}

TEST_CASE("a diff names moved routes, added and removed nodes and changed settings") {
    auto before = parse_config(one_gate, im_routes);
    auto after = two_ims(R"(
[[gate]]
msg_id = 1
name = "login"

[[gate]]
msg_id = 3
name = "send"

[[im]]
msg_id = 7
name = "join"
)");
    after.settings.max_packet_size = 1024;
    after.settings.io_threads = 4;
    auto diff = diff_configs(before, after);
    auto lines = diff.describe(before, after);
    INFO(lines.size());
    CHECK(mentions(lines, "msg_id 3 moved from im to gate"));
    CHECK(mentions(lines, "msg_id 7 routed to im"));
    CHECK(mentions(lines, "node added: im-2 (id 3, group im)"));
    CHECK(mentions(lines, "max_packet_size 65536 -> 1024"));
    auto back = diff_configs(after, before);
    CHECK(mentions(back.describe(after, before), "node removed: im-2 (id 3, group im)"));
    CHECK(mentions(back.describe(after, before), "msg_id 7 no longer routed (was im)"));

    std::vector<std::uint32_t> gate_here{1};
    auto restart = diff.needs_restart(gate_here);
    CHECK(mentions(restart, "io_threads 0 -> 4 (applies when the process restarts)"));
    CHECK_FALSE(mentions(restart, "max_packet_size"));
    CHECK(diff_configs(before, before).empty());
}

TEST_CASE("a change to a node's own row needs its process to restart, not another's") {
    auto before = parse_config(one_gate, gate_routes);
    auto after = parse_config(im_with("parallel = true\n"), gate_routes);
    auto diff = diff_configs(before, after);
    std::vector<std::uint32_t> im_here{2}, gate_here{1};
    CHECK(mentions(diff.needs_restart(im_here), "node im-1 (runs here): parallel false -> true"));
    CHECK(diff.needs_restart(gate_here).empty());
}

TEST_CASE("a reloaded topology keeps every group's id and remembers where msgIDs were routed") {
    auto first = std::make_shared<Topology>(two_ims(im_routes));
    auto im = *first->find_group("im");
    auto gate = *first->find_group("gate");
    // route.toml now sends 3 to a new group written before the others, and im-2 moved there.
    auto config = parse_config(std::string(one_gate) +
                                   "\n[[logic]]\nid = 3\nname = \"im-2\"\ntype = \"backend\"\n"
                                   "host = \"127.0.0.1\"\nport = 21000\n",
                               R"(
[[logic]]
msg_id = 3
name = "send"

[[gate]]
msg_id = 1
name = "login"
)");
    Topology second(config, first.get());
    CHECK(second.generation() == 1);
    CHECK(second.find_group("im") == im);
    CHECK(second.find_group("gate") == gate);
    auto logic = *second.find_group("logic");
    CHECK(logic == second.group_count() - 1);
    CHECK(second.route(3) == logic);
    CHECK(second.former_groups(3) == std::vector{im});
    CHECK(second.former_groups(1).empty());
    CHECK(second.in_group(im, 2));
    CHECK_FALSE(second.in_group(im, 3));
    CHECK(second.in_group(logic, 3));

    // Back to im: im is not a former group of 3 any more, logic is.
    Topology third(two_ims(im_routes), &second);
    CHECK(third.route(3) == im);
    CHECK(third.former_groups(3) == std::vector{logic});
    CHECK(third.group(logic).nodes.empty());  // the group left, its id stays
}
