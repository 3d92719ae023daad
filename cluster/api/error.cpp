#include "cluster/api/error.hpp"

namespace dinx::cluster {

std::string_view to_string(Error error) {
    switch (error) {
        case Error::no_route:
            return "no_route";
        case Error::unavailable:
            return "unavailable";
        case Error::outcome_unknown:
            return "outcome_unknown";
        case Error::overloaded:
            return "overloaded";
        case Error::no_handler:
            return "no_handler";
        case Error::handler_error:
            return "handler_error";
        case Error::bad_request:
            return "bad_request";
        case Error::unauthenticated:
            return "unauthenticated";
        case Error::rejected:
            return "rejected";
        case Error::already_logged_in:
            return "already_logged_in";
    }
    return "unknown";
}

}  // namespace dinx::cluster
