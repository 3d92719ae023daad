#pragma once
// What a node's admin endpoint asks of the process it runs in. The endpoint authenticates the
// caller and frames the conversation; the service runs the commands.

#include <cstdint>
#include <functional>
#include <string>

namespace dinx::cluster {

/// One command of `ctl`.
struct AdminRequest {
    std::string command;   ///< "status", "routes", "reload", "drain", "kick"
    std::string argument;  ///< kick: the uid; else empty
};

/// Runs admin commands. Implemented by the Supervisor.
class AdminService {
public:
    virtual ~AdminService() = default;
    /// Runs `request`, which came to node `node_id`'s endpoint; `answer` gets the JSON answer
    /// once, from any thread.
    virtual void run_admin(std::uint32_t node_id, const AdminRequest& request,
                           std::function<void(std::string json)> answer) = 0;
};

}  // namespace dinx::cluster
