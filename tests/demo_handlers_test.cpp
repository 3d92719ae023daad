// The demo's handlers, unit-tested with dinx::testing::FakeContext: no sockets, no nodes. This
// is how a game tests its own handlers.

#include "cluster/testing.hpp"
#include "demo/handlers.hpp"

#include <doctest/doctest.h>

#include <map>

// The public header must stay free of asio: a game that includes it builds fast and does not
// depend on how dinx does its I/O.
#ifdef ASIO_VERSION
#error "cluster/dinx.hpp pulled in asio"
#endif

using dinx::testing::FakeContext;

namespace {

// The demo's handlers by msgID, as App would register them.
const dinx::Handler& demo_handler(std::uint32_t msg_id) {
    static const auto handlers = [] {
        std::map<std::uint32_t, dinx::Handler> table;
        dinx::demo::register_demo_handlers(
            [&](std::uint32_t id, dinx::Handler handler) { table.emplace(id, handler); });
        return table;
    }();
    return handlers.at(msg_id);
}

// A cluster with the demo's groups: gate-1 (1), im-1 (2), im-2 (3).
dinx::dict::Config demo_cluster() {
    auto config = FakeContext::one_gate();
    config.nodes.push_back(
        {2, "im-1", "im", dinx::dict::NodeType::backend, "127.0.0.1", 20000, 0, 0});
    config.nodes.push_back(
        {3, "im-2", "im", dinx::dict::NodeType::backend, "127.0.0.1", 21000, 0, 0});
    return config;
}

}  // namespace

TEST_CASE("login binds the name and welcomes it") {
    FakeContext ctx(dinx::demo::login);
    ctx.run(demo_handler(dinx::demo::login), "alice");
    CHECK(ctx.binds == std::vector<std::string>{"alice"});
    REQUIRE(ctx.replies.size() == 1);
    CHECK(ctx.replies[0].msg_id == dinx::demo::login);
    CHECK(ctx.replies[0].payload == "welcome alice");
}

TEST_CASE("an empty login is a bad_request, and binds nothing") {
    FakeContext ctx(dinx::demo::login);
    ctx.run(demo_handler(dinx::demo::login), "");
    CHECK(ctx.binds.empty());
    REQUIRE(ctx.failures.size() == 1);
    CHECK(ctx.failures[0].code == "bad_request");
    CHECK(ctx.replies.empty());
}

TEST_CASE("logout unbinds and says goodbye by name") {
    FakeContext ctx(dinx::demo::logout, {1, 7, "bob"});
    ctx.run(demo_handler(dinx::demo::logout), "");
    CHECK(ctx.binds == std::vector<std::string>{""});
    REQUIRE(ctx.replies.size() == 1);
    CHECK(ctx.replies[0].payload == "bye bob");
}

TEST_CASE("send replies with the name of the node that ran it") {
    FakeContext ctx(dinx::demo::send, {1, 7, {}}, demo_cluster(), 2);
    ctx.run(demo_handler(dinx::demo::send), "hello");
    REQUIRE(ctx.replies.size() == 1);
    CHECK(ctx.replies[0].payload == "im-1: hello");
}

TEST_CASE("broadcast sends the text under the sender's uid, or guest-<conn id>") {
    FakeContext guest(dinx::demo::broadcast, {1, 7, {}});
    guest.run(demo_handler(dinx::demo::broadcast), "hi");
    REQUIRE(guest.broadcasts.size() == 1);
    CHECK(guest.broadcasts[0].payload == "guest-7: hi");
    CHECK(guest.replies.empty());
    FakeContext alice(dinx::demo::broadcast, {1, 7, "alice"});
    alice.run(demo_handler(dinx::demo::broadcast), "hi");
    CHECK(alice.broadcasts.at(0).payload == "alice: hi");
}

TEST_CASE("relay forwards to another node of its group, which replies naming both") {
    FakeContext first(dinx::demo::relay, {1, 7, {}}, demo_cluster(), 2);
    first.run(demo_handler(dinx::demo::relay), "ping");
    REQUIRE(first.forwards.size() == 1);
    CHECK(first.forwards[0].group == "im");
    CHECK(first.forwards[0].avoid_self);
    CHECK(first.forwards[0].frame.payload == "ping");
    CHECK(first.replies.empty());

    FakeContext second(dinx::demo::relay, {1, 7, {}}, demo_cluster(), 3);
    second.set_forwarded_by(2);
    second.run(demo_handler(dinx::demo::relay), "ping");
    REQUIRE(second.replies.size() == 1);
    CHECK(second.replies[0].payload == "im-2 via im-1: ping");
    CHECK(second.forwards.empty());
}

TEST_CASE("echo returns the payload unchanged") {
    FakeContext ctx(dinx::demo::echo);
    ctx.run(demo_handler(dinx::demo::echo), std::string("\0bin\xff", 5));
    REQUIRE(ctx.replies.size() == 1);
    CHECK(ctx.replies[0].payload == std::string("\0bin\xff", 5));
}
