#pragma once
// The caller's side of the admin protocol (admin_protocol.hpp): connect to one node's admin
// endpoint, prove the cluster secret, send commands, read their JSON answers. Blocking, with a
// deadline on every step: `ctl` is a command line tool.

#include "node/blocking_client.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

namespace dinx::cluster {

/// One authenticated admin connection.
class AdminClient {
public:
    /// Connects to host:port and authenticates as a caller who knows `secret` (node `node_id`
    /// checks it); throws std::runtime_error naming what failed (refused, timed out, closed).
    AdminClient(const std::string& host, std::uint16_t port, std::uint32_t node_id,
                const std::string& secret, std::chrono::milliseconds timeout);

    /// Sends `command` (with `argument`) and returns the JSON answer; throws std::runtime_error
    /// when none arrives in time.
    std::string run(const std::string& command, const std::string& argument = {});
    /// The name the node gave in its welcome.
    const std::string& node_name() const { return node_name_; }

private:
    /// The next frame, or std::runtime_error naming `waiting_for`.
    node::Frame next(const std::string& waiting_for);

    std::unique_ptr<node::BlockingClient> client_;
    std::chrono::milliseconds timeout_;
    std::string node_name_;
};

}  // namespace dinx::cluster
