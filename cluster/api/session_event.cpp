#include "cluster/api/session_event.hpp"

namespace dinx::cluster {

std::string_view to_string(SessionEventKind kind) {
    switch (kind) {
        case SessionEventKind::connected:
            return "connected";
        case SessionEventKind::bound:
            return "bound";
        case SessionEventKind::disconnected:
            return "disconnected";
    }
    return "unknown";
}

std::string_view to_string(DisconnectReason reason) {
    switch (reason) {
        case DisconnectReason::none:
            return "";
        case DisconnectReason::closed:
            return "closed";
        case DisconnectReason::idle:
            return "idle";
        case DisconnectReason::kicked:
            return "kicked";
        case DisconnectReason::replaced:
            return "replaced";
        case DisconnectReason::stopping:
            return "stopping";
    }
    return "unknown";
}

}  // namespace dinx::cluster
