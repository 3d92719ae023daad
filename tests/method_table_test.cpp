// MethodTable: methods by number or by name, and every clash refused at registration.

#include "cluster/api/method_table.hpp"

#include <doctest/doctest.h>

#include <functional>
#include <string>

using namespace dinx::cluster;

namespace {

using Fn = std::function<int()>;

}  // namespace

TEST_CASE("a method name's id is FNV-1a of its bytes, the same everywhere") {
    static_assert(method_id("") == 2166136261u);
    CHECK(method_id("a") == 0xe40c292cu);       // FNV-1a 32 test vector
    CHECK(method_id("foobar") == 0xbf9cf968u);  // FNV-1a 32 test vector
    CHECK(method_id("score_of") != method_id("score_0f"));
}

TEST_CASE("methods are found by number and by name's id, and name themselves") {
    MethodTable<Fn> table;
    table.add(7, [] { return 7; });
    table.add("score_of", [] { return 1; });
    REQUIRE(table.find(7));
    CHECK((*table.find(7))() == 7);
    REQUIRE(table.find(method_id("score_of")));
    CHECK((*table.find(method_id("score_of")))() == 1);
    CHECK(table.find(8) == nullptr);
    CHECK(table.name_of(7) == "#7");
    CHECK(table.name_of(method_id("score_of")) == "score_of");
    CHECK(table.name_of(8).empty());
    CHECK(table.size() == 2);
}

TEST_CASE("a second method of one name or number, or a clash of ids, is refused naming both") {
    MethodTable<Fn> table;
    table.add("score_of", [] { return 1; });
    CHECK_THROWS_WITH_AS(table.add("score_of", [] { return 2; }),
                         "method score_of is already registered", std::logic_error);
    // A number equal to a name's id clashes with it.
    CHECK_THROWS_WITH_AS(table.add(method_id("score_of"), [] { return 3; }),
                         doctest::Contains("score_of and #"), std::logic_error);
    // Two names with one id: "costarring" and "liquid" are a known FNV-1a 32 collision.
    static_assert(method_id("costarring") == method_id("liquid"));
    table.add("costarring", [] { return 4; });
    CHECK_THROWS_WITH_AS(table.add("liquid", [] { return 5; }),
                         doctest::Contains("costarring and liquid have the same id"),
                         std::logic_error);
    CHECK((*table.find(method_id("costarring")))() == 4);
}

TEST_CASE("a method name is 1 to 64 bytes") {
    MethodTable<Fn> table;
    CHECK_THROWS_AS(table.add(std::string_view(""), [] { return 0; }), std::invalid_argument);
    CHECK_THROWS_AS(table.add(std::string(65, 'm'), [] { return 0; }), std::invalid_argument);
    table.add(std::string(64, 'm'), [] { return 0; });
    CHECK(table.size() == 1);
}
