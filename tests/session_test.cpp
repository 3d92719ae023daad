// SessionValues, SessionChanges and Session: the values a gate keeps per player and the changes
// handlers send back.

#include "cluster/api/session.hpp"

#include <doctest/doctest.h>

#include <stdexcept>
#include <string>

using namespace dinx;
using namespace dinx::cluster;

TEST_CASE("a value set is read back, replaced in place, and erased") {
    SessionValues values;
    values.set("level", "7");
    values.set("guild", "red");
    values.set("level", "8");
    CHECK(values.get("level") == "8");
    CHECK(values.get("guild") == "red");
    CHECK(values.size() == 2);
    std::string order;
    values.for_each(
        [&](std::string_view key, std::string_view) { order += std::string(key) + ","; });
    CHECK(order == "level,guild,");
    CHECK(values.erase("level"));
    CHECK_FALSE(values.erase("level"));
    CHECK_FALSE(values.get("level"));
    CHECK(values.size() == 1);
}

TEST_CASE("session values are bounded in count, key, value and total size") {
    SessionValues values;
    CHECK_THROWS_AS(values.set("", "x"), std::invalid_argument);
    CHECK_THROWS_AS(values.set(std::string(max_session_key + 1, 'k'), "x"), std::length_error);
    CHECK_THROWS_AS(values.set("k", std::string(max_session_value + 1, 'v')), std::length_error);
    for (std::size_t i = 0; i < max_session_values; ++i) values.set("k" + std::to_string(i), "v");
    CHECK_THROWS_AS(values.set("one-more", "v"), std::length_error);
    CHECK(values.size() == max_session_values);
    values.set("k0", "changed");  // replacing stays within the count
    SessionValues big;
    for (int i = 0; i < 3; ++i)
        big.set("k" + std::to_string(i), std::string(max_session_value, 'v'));
    CHECK_THROWS_AS(big.set("k3", std::string(max_session_value, 'v')), std::length_error);
    CHECK_FALSE(big.get("k3"));
}

TEST_CASE("encoded values decode to the same values, and malformed ones are refused") {
    SessionValues values;
    values.set("a", "1");
    values.set("bb", "");
    auto decoded = SessionValues::decode(values.encoded());
    REQUIRE(decoded);
    CHECK(decoded->get("a") == "1");
    CHECK(decoded->get("bb") == "");
    std::string encoded(as_text(values.encoded()));
    for (std::size_t size = 1; size < encoded.size(); ++size) {
        CAPTURE(size);
        auto cut = SessionValues::decode(as_bytes(std::string_view(encoded).substr(0, size)));
        CHECK((!cut || cut->size() < 2));  // a cut between two pairs is one whole pair
    }
    std::string zero_key("\0\0\0", 3);
    CHECK_FALSE(SessionValues::decode(as_bytes(zero_key)));
}

TEST_CASE("changes keep their order and a truncated list stops at the valid prefix") {
    SessionChanges changes;
    changes.add(SessionOp::bind, "alice");
    changes.add(SessionOp::set, "level", "3");
    changes.add(SessionOp::join, "lobby", "alice");
    std::string seen;
    CHECK(SessionChanges::for_each(changes.encoded(), [&](SessionOp op, auto a, auto b) {
        seen += std::to_string(int(op)) + ":" + std::string(a) + "/" + std::string(b) + ";";
    }));
    CHECK(seen == "1:alice/;2:level/3;4:lobby/alice;");
    auto encoded = changes.encoded();
    int visited = 0;
    CHECK_FALSE(SessionChanges::for_each(encoded.first(encoded.size() - 1),
                                         [&](SessionOp, auto, auto) { ++visited; }));
    CHECK(visited == 2);
}

TEST_CASE("a session records sets and erases as per-key changes, and reads integers") {
    Origin client{1, 2, "bob"};
    SessionValues start;
    start.set("gold", "10");
    Session session(client, start);
    CHECK(session.get_int("gold") == 10);
    session.set_int("gold", -5);
    session.erase("missing");  // not there: no change
    session.set("name", "x");
    session.erase("name");
    CHECK(session.get_int("gold") == -5);
    CHECK_FALSE(session.get("name"));
    std::string seen;
    SessionChanges::for_each(session.take_changes().encoded(), [&](SessionOp op, auto a, auto b) {
        seen += std::to_string(int(op)) + ":" + std::string(a) + "=" + std::string(b) + ";";
    });
    CHECK(seen == "2:gold=-5;2:name=x;3:name=;");
    CHECK_FALSE(session.changed());
    session.set("word", "abc");
    CHECK_FALSE(session.get_int("word"));
}
