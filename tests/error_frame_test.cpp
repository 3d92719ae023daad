// The error frame's JSON body.

#include "cluster/rpc/error_frame.hpp"

#include <doctest/doctest.h>

using namespace dinx::cluster;

TEST_CASE("an error payload is the documented JSON object") {
    CHECK(error_payload(3, Error::no_route, "no group handles msg_id 3") ==
          R"({"msg_id": 3, "code": "no_route", "message": "no group handles msg_id 3"})");
}

TEST_CASE("quotes, backslashes and control characters in the message are escaped") {
    CHECK(error_payload(4294967295u, "x", "a \"b\" \\ c\nd\x01") ==
          R"({"msg_id": 4294967295, "code": "x", "message": "a \"b\" \\ c\nd\u0001"})");
}
