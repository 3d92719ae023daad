// The demo's handlers, unit-tested with dinx::testing::FakeContext: no sockets, no nodes. This
// is how a game tests its own handlers.

#include "cluster/testing.hpp"
#include "demo/handlers.hpp"

#include <doctest/doctest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

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

TEST_CASE("join puts the client in the room and answers with the room's size") {
    FakeContext ctx(dinx::demo::join, {1, 5, "alice"});
    ctx.rooms["lobby"] = {"bob"};
    ctx.run(demo_handler(dinx::demo::join), "lobby");
    CHECK(ctx.rooms["lobby"] == std::set<std::string>{"alice", "bob"});
    REQUIRE(ctx.replies.size() == 1);
    CHECK(ctx.replies[0].payload == "joined lobby: 2 members");
}

TEST_CASE("join past the session's room limit is a bad_request, and joins nothing") {
    FakeContext ctx(dinx::demo::join, {1, 5, "alice"});
    for (std::size_t n = 0; n < dinx::cluster::max_session_rooms; ++n)
        ctx.rooms["r" + std::to_string(n)] = {"alice"};
    ctx.run(demo_handler(dinx::demo::join), "one-more");
    REQUIRE(ctx.failures.size() == 1);
    CHECK(ctx.failures[0].code == "bad_request");
    CHECK_FALSE(ctx.rooms.contains("one-more"));
}

TEST_CASE("say goes to the room without the speaker, who gets the same line back") {
    FakeContext ctx(dinx::demo::say, {1, 5, "alice"});
    ctx.rooms["lobby"] = {"alice", "bob"};
    ctx.run(demo_handler(dinx::demo::say), "lobby hi all");
    REQUIRE(ctx.room_frames.size() == 1);
    CHECK(ctx.room_frames[0].room == "lobby");
    CHECK(ctx.room_frames[0].except_uid == "alice");
    CHECK(ctx.room_frames[0].frame.payload == "lobby alice: hi all");
    REQUIRE(ctx.replies.size() == 1);
    CHECK(ctx.replies[0].payload == "lobby alice: hi all");
}

TEST_CASE("a whisper to an offline uid is an `offline` error, to an online one a push") {
    FakeContext ctx(dinx::demo::whisper, {1, 5, "alice"});
    ctx.run(demo_handler(dinx::demo::whisper), "bob psst");
    REQUIRE(ctx.failures.size() == 1);
    CHECK(ctx.failures[0].code == "offline");
    CHECK(ctx.uid_pushes.empty());
    FakeContext online(dinx::demo::whisper, {1, 5, "alice"});
    online.online_uids.insert("bob");
    online.run(demo_handler(dinx::demo::whisper), "bob psst");
    REQUIRE(online.uid_pushes.size() == 1);
    CHECK(online.uid_pushes[0].uid == "bob");
    CHECK(online.uid_pushes[0].frame.payload == "alice: psst");
    CHECK(online.replies.at(0).payload == "to bob: psst");
}

TEST_CASE("set records one per-key change, and get reads the session's value") {
    FakeContext set(dinx::demo::set_value, {1, 5, "alice"});
    set.preset_value("other", "kept");
    set.run(demo_handler(dinx::demo::set_value), "color red");
    CHECK(set.session().get("color") == "red");
    std::vector<std::string> keys;
    dinx::cluster::SessionChanges::for_each(set.session().take_changes().encoded(),
                                            [&](dinx::cluster::SessionOp, std::string_view key,
                                                std::string_view) { keys.emplace_back(key); });
    CHECK(keys == std::vector<std::string>{"color"});  // "other" is not overwritten
    FakeContext get(dinx::demo::get_value, {1, 5, "alice"});
    get.preset_value("color", "red");
    get.run(demo_handler(dinx::demo::get_value), "color");
    CHECK(get.replies.at(0).payload == "color=red");
}
