// CallError names and Result<T>: a reply or the failure that took its place.

#include "cluster/api/call.hpp"

#include <doctest/doctest.h>

#include <memory>
#include <set>
#include <string>

using namespace dinx::cluster;

TEST_CASE("every call error has its own name") {
    std::set<std::string> names;
    for (auto error : {CallError::no_such_method, CallError::no_node, CallError::unavailable,
                       CallError::deadline_exceeded, CallError::overloaded, CallError::application,
                       CallError::cancelled})
        names.insert(std::string(to_string(error)));
    CHECK(names.size() == 7);
    CHECK(names.contains("deadline_exceeded"));
    CHECK(to_string(static_cast<CallError>(200)) == "unknown");
}

TEST_CASE("a result holds a reply or a failure, never both") {
    CallReply reply(std::string("42"));
    REQUIRE(reply);
    CHECK(*reply == "42");
    CHECK(reply->size() == 2);

    CallReply failed(call_failure(CallError::no_node, "no node of group rank"));
    CHECK_FALSE(failed);
    CHECK(failed.error().error == CallError::no_node);
    CHECK(failed.error().code == "no_node");
    CHECK(failed.error().message == "no node of group rank");

    CallReply own(CallFailure{CallError::application, "not_found", "no such player"});
    CHECK(own.error().code == "not_found");
}

TEST_CASE("a result's reply can be moved out") {
    Result<std::unique_ptr<int>> boxed(std::make_unique<int>(5));
    auto taken = *std::move(boxed);
    REQUIRE(taken);
    CHECK(*taken == 5);
}
