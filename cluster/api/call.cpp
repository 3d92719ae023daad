#include "cluster/api/call.hpp"

namespace dinx::cluster {

std::string_view to_string(CallError error) {
    switch (error) {
        case CallError::no_such_method:
            return "no_such_method";
        case CallError::no_node:
            return "no_node";
        case CallError::unavailable:
            return "unavailable";
        case CallError::deadline_exceeded:
            return "deadline_exceeded";
        case CallError::overloaded:
            return "overloaded";
        case CallError::application:
            return "application";
        case CallError::cancelled:
            return "cancelled";
    }
    return "unknown";
}

}  // namespace dinx::cluster
