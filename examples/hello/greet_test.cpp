// The handler without a socket: dinx::testing::FakeContext records what it sends.

#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include "greet.hpp"
#include "cluster/testing.hpp"

#include <doctest/doctest.h>

TEST_CASE("a greeting is answered with the name it carries") {
    dinx::testing::FakeContext ctx(hello::greet_msg_id);
    ctx.run(hello::greet, "bob");
    REQUIRE(ctx.replies.size() == 1);
    CHECK(ctx.replies[0].msg_id == hello::greet_msg_id);
    CHECK(ctx.replies[0].payload == "hello, bob");
}
