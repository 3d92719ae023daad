#pragma once
// The payload of the error frame a client gets instead of a reply:
// {"msg_id": <the request's id>, "code": "<code>", "message": "<human text>"}.

#include <cstdint>
#include <string>
#include <string_view>

namespace dinx::cluster {

/// Error codes a client can see; the README lists when each is sent.
namespace error_code {
inline constexpr std::string_view no_route = "no_route";  ///< no group handles the msgID
/// the request certainly did not run: no node could be reached, or it never left this node
inline constexpr std::string_view unavailable = "unavailable";
/// the request was sent, then its node or the way back was lost: it may or may not have run
inline constexpr std::string_view outcome_unknown = "outcome_unknown";
inline constexpr std::string_view overloaded =
    "overloaded";  ///< the link's queue to the group is full
inline constexpr std::string_view no_handler =
    "no_handler";  ///< the chosen node has no handler for it
inline constexpr std::string_view handler_error = "handler_error";  ///< the handler threw
}  // namespace error_code

/// The JSON body of an error frame (strings are escaped).
std::string error_payload(std::uint32_t msg_id, std::string_view code, std::string_view message);

}  // namespace dinx::cluster
