// FakeContext runs coroutine handlers and methods to their end: what a game's unit tests of
// handlers that call services look like.

#include "cluster/testing.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <string>

using namespace dinx;
using namespace std::chrono_literals;
using dinx::testing::FakeContext;

namespace {

// Asks account, then replies with what it said (or fails with the call's code).
Task<void> greet(Context& ctx, Bytes payload) {
    auto account = co_await ctx.call(CallTarget::any("account"), "account.load", as_text(payload));
    if (!account) {
        ctx.fail(account.error().code, account.error().message);
        co_return;
    }
    co_await ctx.sleep(10ms);
    ctx.reply(14, "hello, " + *account);
}

Task<CallReply> double_it(Context& ctx, Bytes payload) {
    auto parse = [text = std::string(as_text(payload))] { return std::stoi(text); };
    int n = co_await ctx.blocking(parse);
    co_return std::to_string(2 * n);
}

}  // namespace

TEST_CASE("a coroutine handler runs to its end on the fake, with scripted call replies") {
    FakeContext ctx(14);
    ctx.on_call("account.load", {CallReply(std::string("level 3"))});
    ctx.run(greet, "alice");
    REQUIRE(ctx.calls.size() == 1);
    CHECK(ctx.calls[0].target.group == "account");
    CHECK(ctx.calls[0].method == cluster::method_id("account.load"));
    CHECK(ctx.calls[0].payload == "alice");
    CHECK(ctx.sleeps == std::vector<std::chrono::milliseconds>{10ms});
    REQUIRE(ctx.replies.size() == 1);
    CHECK(ctx.replies[0].payload == "hello, level 3");
}

TEST_CASE("a call with no scripted reply fails on the fake, and the handler sees the failure") {
    FakeContext ctx(14);
    ctx.run(greet, "alice");
    REQUIRE(ctx.failures.size() == 1);
    CHECK(ctx.failures[0].code == "no_node");
    CHECK(ctx.replies.empty());
}

TEST_CASE("a method runs on the fake and returns its reply, its blocking work run inline") {
    FakeContext ctx(0);
    CallReply reply = ctx.run(double_it, "21");
    REQUIRE(reply.has_value());
    CHECK(*reply == "42");
    CHECK(ctx.blocking_runs == 1);
}
