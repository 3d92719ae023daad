#pragma once
// The codes of the error frames a client gets instead of a reply. README lists when each is
// sent; on the wire it is the JSON object {"msg_id": N, "code": "<name>", "message": "..."}.

#include <cstdint>
#include <string_view>

namespace dinx::cluster {

/// Why a request got an error frame.
enum class Error : std::uint8_t {
    no_route,           ///< no group handles the msgID (or a forward named an unknown target)
    unavailable,        ///< the request surely did not run: nothing could take it
    outcome_unknown,    ///< it reached a node that was then lost: it may or may not have run
    overloaded,         ///< too much already waits for the node, or memory is short
    no_handler,         ///< the node that got it has no handler for its msgID
    handler_error,      ///< the handler threw
    bad_request,        ///< (for handlers) the request itself is wrong
    unauthenticated,    ///< (for interceptors) the client must log in first
    rejected,           ///< an interceptor stopped the frame without answering it
    already_logged_in,  ///< the uid is bound to another session and the policy refuses
};

/// The code's name on the wire ("no_route", ...).
std::string_view to_string(Error error);

}  // namespace dinx::cluster
