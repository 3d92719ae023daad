// proto_handler: typed protobuf requests and replies, bad_request for what does not parse, one
// answer per request; decode_proto_reply for the replies of calls between services.

#include "cluster/testing.hpp"
#include "cluster/typed/protobuf.hpp"
#include "typed_test.pb.h"

#include <doctest/doctest.h>

#include <string>

using namespace dinx::cluster;
using namespace std::string_literals;
using dinx::test::Greet;
using dinx::test::Greeting;
using dinx::testing::FakeContext;

namespace {

constexpr std::uint32_t greet = 20;

Greet greet_of(const std::string& name) {
    Greet in;
    in.set_name(name);
    return in;
}

Greeting greeting_of(const std::string& text, int visits) {
    Greeting out;
    out.set_text(text);
    out.set_visits(visits);
    return out;
}

Handler greeter(int* runs = nullptr) {
    return proto_handler<Greet>([runs](Context& ctx, const Greet& in) {
        if (runs) ++*runs;
        if (in.name().empty()) ctx.fail(Error::bad_request, "a name, please");
        return greeting_of("hello " + in.name(), 1);
    });
}

// Bytes that are no Greet: a bad wire type ('n' is field 13, type 6), a zero tag, a varint cut
// short, a string longer than what follows.
const std::string garbage[] = {"not json"s, "\x00"s, "\xff\xff\xff"s,
                               "\x0a\x05"s
                               "ab"s};

}  // namespace

TEST_CASE("proto_handler parses the request and replies with the serialized result") {
    FakeContext ctx(greet);
    ctx.run(greeter(), to_proto_payload(greet_of("alice")));
    REQUIRE(ctx.replies.size() == 1);
    CHECK(ctx.replies[0].msg_id == greet);
    Greeting reply;
    REQUIRE(reply.ParseFromString(ctx.replies[0].payload));
    CHECK(reply.text() == "hello alice");
    CHECK(reply.visits() == 1);
    CHECK(ctx.failures.empty());
}

TEST_CASE("proto_handler: a payload that does not parse is a bad_request, nothing runs") {
    for (const auto& payload : garbage) {
        CAPTURE(payload.size());
        int runs = 0;
        FakeContext ctx(greet);
        ctx.run(greeter(&runs), payload);
        CHECK(runs == 0);
        CHECK(ctx.replies.empty());
        REQUIRE(ctx.failures.size() == 1);
        CHECK(ctx.failures[0].code == "bad_request");
        CHECK(ctx.failures[0].message ==
              "msg_id 20: the payload is not a dinx.test.Greet protobuf message");
    }
}

TEST_CASE("proto_handler: a function that answered by itself has its result dropped") {
    // The empty payload is a Greet with every field at its default: it parses, the name is "".
    int runs = 0;
    FakeContext ctx(greet);
    ctx.run(greeter(&runs), "");
    CHECK(runs == 1);
    CHECK(ctx.replies.empty());
    REQUIRE(ctx.failures.size() == 1);
    CHECK(ctx.failures[0].message == "a name, please");
}

TEST_CASE("proto_handler: a void function replies nothing, a push can carry protobuf") {
    FakeContext ctx(greet, {1, 5, "alice"});
    ctx.online_uids.insert("bob");
    ctx.run(proto_handler<Greet>([](Context& ctx, const Greet& in) {
                ctx.push(in.name(), 21, to_proto_payload(greeting_of("psst", 2)));
            }),
            to_proto_payload(greet_of("bob")));
    CHECK(ctx.replies.empty());
    CHECK(ctx.failures.empty());
    REQUIRE(ctx.uid_pushes.size() == 1);
    Greeting pushed;
    REQUIRE(pushed.ParseFromString(ctx.uid_pushes[0].frame.payload));
    CHECK(pushed.visits() == 2);
}

TEST_CASE("decode_proto_reply passes a call's failure through unchanged") {
    CallReply failed(CallFailure{CallError::application, "not_found", "no such player"});
    auto greeting = decode_proto_reply<Greeting>(failed);
    REQUIRE_FALSE(greeting);
    CHECK(greeting.error().error == CallError::application);
    CHECK(greeting.error().code == "not_found");
    CHECK(greeting.error().message == "no such player");

    auto timed_out = decode_proto_reply<Greeting>(
        CallReply(call_failure(CallError::deadline_exceeded, "no reply in 2000 ms")));
    REQUIRE_FALSE(timed_out);
    CHECK(timed_out.error().error == CallError::deadline_exceeded);
    CHECK(timed_out.error().code == "deadline_exceeded");
    CHECK(timed_out.error().message == "no reply in 2000 ms");
}

TEST_CASE("decode_proto_reply parses a good reply") {
    auto greeting = decode_proto_reply<Greeting>(CallReply(to_proto_payload(greeting_of("hi", 3))));
    REQUIRE(greeting);
    CHECK(greeting->text() == "hi");
    CHECK(greeting->visits() == 3);
}

TEST_CASE("decode_proto_reply turns a reply that does not parse into bad_reply") {
    for (const auto& payload : garbage) {
        CAPTURE(payload.size());
        auto greeting = decode_proto_reply<Greeting>(CallReply(payload));
        REQUIRE_FALSE(greeting);
        CHECK(greeting.error().error == CallError::application);
        CHECK(greeting.error().code == "bad_reply");
        CHECK(greeting.error().message == "the reply is not a dinx.test.Greeting protobuf message");
    }
}

TEST_CASE("proto_method: a typed request in, a typed reply out, and bytes that do not parse fail it") {
    auto method = proto_method<Greet>([](dinx::Context&, const Greet& in) {
        Greeting out;
        out.set_text("hello " + in.name());
        return out;
    });
    FakeContext ctx(0);
    Greet greet;
    greet.set_name("ann");
    auto reply = ctx.run(method, to_proto_payload(greet));
    auto greeting = decode_proto_reply<Greeting>(reply);
    REQUIRE(greeting.has_value());
    CHECK(greeting->text() == "hello ann");

    auto bad = ctx.run(method, "\xff\xff\xff");
    REQUIRE_FALSE(bad.has_value());
    CHECK(bad.error().code == "bad_request");
}
