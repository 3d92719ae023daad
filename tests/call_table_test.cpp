// CallTable: each call ends exactly once, by its reply, its node's death, its deadline or the
// shard stopping, and a `done` that makes new calls does not disturb the table.

#include "cluster/rpc/call_table.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace dinx::cluster;
using namespace std::chrono_literals;

namespace {

using Clock = CallTable::Clock;

// Records each outcome as "<id>:<payload>" or "<id>!<code>".
struct Outcomes {
    std::vector<std::string> seen;
    CallTable::Done recorder(std::string name) {
        return [this, name](CallReply reply) {
            seen.push_back(reply ? name + ":" + *reply : name + "!" + reply.error().code);
        };
    }
};

}  // namespace

TEST_CASE("a reply ends its call once, and a late one is refused") {
    CallTable table;
    Outcomes out;
    auto t0 = Clock::now();
    auto a = table.add(2, t0 + 1s, out.recorder("a"));
    auto b = table.add(2, t0 + 1s, out.recorder("b"));
    CHECK(a != 0);
    CHECK(a != b);
    CHECK(table.complete(b, CallReply(std::string("42"))));
    CHECK_FALSE(table.complete(b, CallReply(std::string("again"))));
    CHECK(out.seen == std::vector<std::string>{"b:42"});
    CHECK(table.size() == 1);
    CHECK(table.complete(a, CallReply(call_failure(CallError::no_such_method, "none"))));
    CHECK(out.seen.back() == "a!no_such_method");
    CHECK(table.size() == 0);
    CHECK_FALSE(table.next_deadline());
}

TEST_CASE("deadlines end the calls that reached them, earliest first, and no other") {
    CallTable table;
    Outcomes out;
    auto t0 = Clock::now();
    table.add(2, t0 + 300ms, out.recorder("late"));
    auto early = table.add(3, t0 + 100ms, out.recorder("early"));
    table.add(3, t0 + 200ms, out.recorder("middle"));
    REQUIRE(table.next_deadline());
    CHECK(*table.next_deadline() == t0 + 100ms);
    CHECK(table.expire(t0 + 50ms) == 0);
    CHECK(table.expire(t0 + 200ms) == 2);
    CHECK(out.seen ==
          std::vector<std::string>{"early!deadline_exceeded", "middle!deadline_exceeded"});
    CHECK_FALSE(table.complete(early, CallReply(std::string("too late"))));
    CHECK(*table.next_deadline() == t0 + 300ms);
    CHECK(table.size() == 1);
}

TEST_CASE("a node's death ends its calls only") {
    CallTable table;
    Outcomes out;
    auto t0 = Clock::now();
    table.add(2, t0 + 1s, out.recorder("to2"));
    auto to3 = table.add(3, t0 + 1s, out.recorder("to3"));
    table.add(2, t0 + 2s, out.recorder("to2b"));
    CHECK(table.fail_node(2, call_failure(CallError::deadline_exceeded, "im-1 died")) == 2);
    CHECK(out.seen.size() == 2);
    CHECK(table.size() == 1);
    CHECK(*table.next_deadline() == t0 + 1s);
    CHECK(table.complete(to3, CallReply(std::string("ok"))));
}

TEST_CASE("a done that makes new calls while calls end is safe, and the new ones stay") {
    CallTable table;
    auto t0 = Clock::now();
    int ended = 0;
    for (int n = 0; n < 3; ++n)
        table.add(2, t0, [&](CallReply) {
            ++ended;
            table.add(3, t0 + 1s, [&](CallReply) { ++ended; });  // a retry elsewhere
        });
    CHECK(table.expire(t0) == 3);
    CHECK(ended == 3);
    CHECK(table.size() == 3);
    CHECK(table.fail_all(call_failure(CallError::cancelled, "stopping")) == 3);
    CHECK(ended == 6);
    CHECK(table.size() == 0);
}
