// Node choice: sticky per client, spread over nodes, only live nodes, minimal movement.

#include "cluster/rpc/balancer.hpp"

#include <doctest/doctest.h>

#include <map>
#include <set>
#include <vector>

using namespace dinx::cluster;

namespace {

const std::vector<std::uint32_t> nodes{2, 3, 4};
auto all_live = [](std::uint32_t) { return true; };

}  // namespace

TEST_CASE("one client always gets the same node") {
    for (std::uint64_t conn = 1; conn < 200; ++conn) {
        auto key = sticky_key(1, conn);
        auto first = pick_node(nodes, key, all_live);
        REQUIRE(first);
        for (int i = 0; i < 5; ++i) CHECK(pick_node(nodes, key, all_live) == first);
    }
}

TEST_CASE("clients spread over every node of the group") {
    std::map<std::uint32_t, int> load;
    for (std::uint64_t conn = 1; conn <= 3000; ++conn)
        ++load[*pick_node(nodes, sticky_key(1, conn), all_live)];
    REQUIRE(load.size() == 3);
    for (auto [node, count] : load) {
        CAPTURE(node);
        CHECK(count > 700);  // 1000 each on average
    }
}

TEST_CASE("a dead node's clients move to live nodes and no other client moves") {
    auto without_3 = [](std::uint32_t id) { return id != 3; };
    for (std::uint64_t conn = 1; conn <= 500; ++conn) {
        auto key = sticky_key(1, conn);
        auto before = *pick_node(nodes, key, all_live);
        auto after = *pick_node(nodes, key, without_3);
        CHECK(after != 3);
        if (before != 3) CHECK(after == before);
    }
}

TEST_CASE("no live node means no choice") {
    CHECK_FALSE(pick_node(nodes, sticky_key(1, 1), [](std::uint32_t) { return false; }));
    CHECK_FALSE(pick_node({}, sticky_key(1, 1), all_live));
}

TEST_CASE("an avoided node is chosen only when it is the only live one") {
    std::set<std::uint32_t> chosen;
    for (std::uint64_t conn = 1; conn <= 100; ++conn)
        chosen.insert(*pick_node(nodes, sticky_key(1, conn), all_live, 2u));
    CHECK(chosen == std::set<std::uint32_t>{3, 4});
    auto only_2 = [](std::uint32_t id) { return id == 2; };
    CHECK(pick_node(nodes, sticky_key(1, 1), only_2, 2u) == 2u);
    std::vector<std::uint32_t> alone{2};
    CHECK(pick_node(alone, sticky_key(1, 1), all_live, 2u) == 2u);
}

TEST_CASE("the same conn id on two gates is two clients") {
    int differ = 0;
    for (std::uint64_t conn = 1; conn <= 100; ++conn)
        differ += pick_node(nodes, sticky_key(1, conn), all_live) !=
                  pick_node(nodes, sticky_key(2, conn), all_live);
    CHECK(differ > 30);
}
