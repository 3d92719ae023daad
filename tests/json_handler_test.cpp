// json_handler: typed JSON requests and replies, bad_request for what does not decode, one
// answer per request; decode_json_reply for the replies of calls between services.

#include "cluster/testing.hpp"
#include "cluster/typed/json.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace dinx::cluster;
using dinx::testing::FakeContext;

namespace {

struct Greet {
    std::string name;
};
struct Greeting {
    std::string text;
    int visits = 0;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Greet, name)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Greeting, text, visits)

constexpr std::uint32_t greet = 20;

Handler greeter() {
    return json_handler<Greet>([](Context& ctx, const Greet& in) {
        if (in.name.empty()) ctx.fail(Error::bad_request, "a name, please");
        return Greeting{"hello " + in.name, 1};
    });
}

}  // namespace

TEST_CASE("json_handler decodes the request and replies with the encoded result") {
    FakeContext ctx(greet);
    ctx.run(greeter(), R"({"name": "alice"})");
    REQUIRE(ctx.replies.size() == 1);
    CHECK(ctx.replies[0].msg_id == greet);
    auto reply = nlohmann::json::parse(ctx.replies[0].payload).get<Greeting>();
    CHECK(reply.text == "hello alice");
    CHECK(reply.visits == 1);
    CHECK(ctx.failures.empty());
}

TEST_CASE("a payload that is not JSON, or not of the request's shape, is a bad_request") {
    for (std::string payload : {"not json", R"({"name": 7})", R"({"nom": "x"})", "", "[1,2"}) {
        CAPTURE(payload);
        FakeContext ctx(greet);
        ctx.run(greeter(), payload);
        CHECK(ctx.replies.empty());
        REQUIRE(ctx.failures.size() == 1);
        CHECK(ctx.failures[0].code == "bad_request");
        CHECK(ctx.failures[0].message.find("msg_id 20") != std::string::npos);
        CHECK(ctx.failures[0].message.size() < 400);  // the decoder's complaint, cut short
    }
}

TEST_CASE("a function that answered by itself has its result dropped") {
    FakeContext ctx(greet);
    ctx.run(greeter(), R"({"name": ""})");
    CHECK(ctx.replies.empty());
    REQUIRE(ctx.failures.size() == 1);
    CHECK(ctx.failures[0].message == "a name, please");
}

TEST_CASE("a function returning void replies nothing, and a push can carry JSON") {
    FakeContext ctx(greet, {1, 5, "alice"});
    ctx.online_uids.insert("bob");
    ctx.run(json_handler<Greet>([](Context& ctx, const Greet& in) {
                ctx.push(in.name, 21, to_json_payload(Greeting{"psst", 2}));
            }),
            R"({"name": "bob"})");
    CHECK(ctx.replies.empty());
    CHECK(ctx.failures.empty());
    REQUIRE(ctx.uid_pushes.size() == 1);
    CHECK(nlohmann::json::parse(ctx.uid_pushes[0].frame.payload)["visits"] == 2);
}

TEST_CASE("decode_json_reply passes a call's failure through unchanged") {
    CallReply failed(CallFailure{CallError::application, "not_found", "no such player"});
    auto greeting = decode_json_reply<Greeting>(failed);
    REQUIRE_FALSE(greeting);
    CHECK(greeting.error().error == CallError::application);
    CHECK(greeting.error().code == "not_found");
    CHECK(greeting.error().message == "no such player");

    auto timed_out = decode_json_reply<Greeting>(
        CallReply(call_failure(CallError::deadline_exceeded, "no reply in 2000 ms")));
    REQUIRE_FALSE(timed_out);
    CHECK(timed_out.error().error == CallError::deadline_exceeded);
    CHECK(timed_out.error().code == "deadline_exceeded");
    CHECK(timed_out.error().message == "no reply in 2000 ms");
}

TEST_CASE("decode_json_reply decodes a good reply") {
    auto greeting = decode_json_reply<Greeting>(CallReply(to_json_payload(Greeting{"hi", 3})));
    REQUIRE(greeting);
    CHECK(greeting->text == "hi");
    CHECK(greeting->visits == 3);
}

TEST_CASE("decode_json_reply turns a reply that is not the Reply's JSON into bad_reply") {
    for (std::string payload : {"not json", R"({"text": 7})", R"({"txt": "x"})", "", "[1,2"}) {
        CAPTURE(payload);
        auto greeting = decode_json_reply<Greeting>(CallReply(payload));
        REQUIRE_FALSE(greeting);
        CHECK(greeting.error().error == CallError::application);
        CHECK(greeting.error().code == "bad_reply");
        CHECK(
            greeting.error().message.starts_with("the reply is not the JSON this call expects: "));
        CHECK(greeting.error().message.size() < 300);  // the decoder's complaint, cut short
    }
}

TEST_CASE("json_method: a typed request in, a typed reply out, and a bad payload fails the call") {
    auto method = dinx::cluster::json_method<Greet>([](dinx::Context&, const Greet& in) {
        return Greeting{"hello " + in.name, 2};
    });
    dinx::testing::FakeContext ctx(0);
    auto reply = ctx.run(method, R"({"name": "ann"})");
    REQUIRE(reply.has_value());
    auto greeting = dinx::cluster::decode_json_reply<Greeting>(reply);
    REQUIRE(greeting.has_value());
    CHECK(greeting->text == "hello ann");
    CHECK(greeting->visits == 2);

    auto bad = ctx.run(method, "not json");
    REQUIRE_FALSE(bad.has_value());
    CHECK(bad.error().error == dinx::cluster::CallError::application);
    CHECK(bad.error().code == "bad_request");
}

TEST_CASE("json_method: a function returning a failure fails the call with it") {
    auto method = dinx::cluster::json_method<Greet>([](dinx::Context&, const Greet&)
                                                        -> dinx::cluster::Result<Greeting> {
        return dinx::cluster::CallFailure{dinx::cluster::CallError::application, "nope", "refused"};
    });
    dinx::testing::FakeContext ctx(0);
    auto reply = ctx.run(method, R"({"name": "ann"})");
    REQUIRE_FALSE(reply.has_value());
    CHECK(reply.error().code == "nope");
}
