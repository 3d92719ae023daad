#pragma once
// The payload of the error frame a client gets instead of a reply:
// {"msg_id": <the request's id>, "code": "<code>", "message": "<human text>"}.

#include "cluster/api/error.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace dinx::cluster {

/// The JSON body of an error frame (strings are escaped).
std::string error_payload(std::uint32_t msg_id, std::string_view code, std::string_view message);

/// The JSON body of an error frame with one of dinx's codes.
inline std::string error_payload(std::uint32_t msg_id, Error code, std::string_view message) {
    return error_payload(msg_id, to_string(code), message);
}

}  // namespace dinx::cluster
