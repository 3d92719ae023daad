// The window of unfinished requests of a link.

#include "cluster/link/pending_window.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <vector>

using namespace dinx::cluster;

namespace {

PendingRequest request_for(std::uint64_t conn) {
    return PendingRequest{1, conn, 3, {}, 0};
}

std::vector<std::uint64_t> seqs(const std::vector<std::pair<std::uint64_t, PendingRequest>>& all) {
    std::vector<std::uint64_t> out;
    for (const auto& [seq, request] : all) out.push_back(seq);
    return out;
}

}  // namespace

TEST_CASE("seqs count up from 1 and each finishes once") {
    PendingWindow window;
    CHECK(window.add(request_for(7)) == 1);
    CHECK(window.add(request_for(8)) == 2);
    auto first = window.finish(1);
    REQUIRE(first);
    CHECK(first->conn_id == 7);
    CHECK_FALSE(window.finish(1));
    CHECK_FALSE(window.finish(99));
    CHECK_FALSE(window.finish(0));
    CHECK(window.size() == 1);
}

TEST_CASE("requests finishing out of order are all found, and the rest taken in seq order") {
    PendingWindow window;
    for (std::uint64_t i = 1; i <= 100; ++i) window.add(request_for(i));
    for (std::uint64_t seq = 100; seq >= 1; seq -= 3) {
        auto request = window.finish(seq);
        REQUIRE(request);
        CHECK(request->conn_id == seq);
        if (seq < 3) break;
    }
    auto rest = window.take_all();
    auto order = seqs(rest);
    CHECK(std::is_sorted(order.begin(), order.end()));
    CHECK(order.size() == 66);
    CHECK(window.size() == 0);
}

TEST_CASE("the window grows while everything stays unfinished") {
    PendingWindow window(1 << 20);
    for (std::uint64_t i = 1; i <= 5000; ++i) window.add(request_for(i));
    CHECK(window.size() == 5000);
    for (std::uint64_t seq = 1; seq <= 5000; ++seq) CHECK(window.finish(seq)->conn_id == seq);
    CHECK(window.size() == 0);
}

TEST_CASE("a straggler moves aside instead of growing the ring past its limit") {
    PendingWindow window(64);
    auto straggler = window.add(request_for(42));
    // Thousands of requests pass while the first one stays unfinished.
    for (int i = 0; i < 5000; ++i) window.finish(window.add(request_for(1)));
    CHECK(window.size() == 1);
    auto late = window.finish(straggler);
    REQUIRE(late);
    CHECK(late->conn_id == 42);
    CHECK(window.size() == 0);
}

TEST_CASE("take_all returns stragglers and ring entries together, in seq order") {
    PendingWindow window(16);
    auto oldest = window.add(request_for(1));
    for (int i = 0; i < 100; ++i) window.finish(window.add(request_for(2)));
    auto young = window.add(request_for(3));
    auto all = window.take_all();
    CHECK(seqs(all) == std::vector<std::uint64_t>{oldest, young});
    CHECK_FALSE(window.finish(oldest));
}
