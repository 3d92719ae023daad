#pragma once
// A node's admin endpoint: the TCP port `ctl` talks to (admin_protocol.hpp). It authenticates
// each caller with the cluster secret (or, without one, takes only callers on this machine),
// then passes their commands to the AdminService and their answers back. Its connections run on
// one io thread of the process; each has deadlines, and there are few at once.

#include "cluster/observe/admin_service.hpp"
#include "dict/config.hpp"
#include "node/acceptor.hpp"
#include "node/io_pool.hpp"

#include <spdlog/logger.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace dinx::cluster {

/// The admin port of one node.
class AdminEndpoint {
public:
    /// Binds `node`'s admin_host:admin_port (throws std::system_error when taken). Callers must
    /// prove they know `secret` ("" takes loopback callers only). Commands go to `service`,
    /// which must outlive the endpoint's close().
    AdminEndpoint(node::IoPool& pool, std::size_t thread, const dict::NodeInfo& node,
                  std::string secret, AdminService& service, spdlog::logger& log);
    /// Closes it.
    ~AdminEndpoint();
    AdminEndpoint(const AdminEndpoint&) = delete;
    AdminEndpoint& operator=(const AdminEndpoint&) = delete;

    /// The bound port.
    std::uint16_t port() const { return acceptor_->port(); }
    /// Starts accepting.
    void start() { acceptor_->start(); }
    /// Stops accepting and ends every connection (from any thread). Idempotent.
    void close();

    /// Connections at once; one more is refused at once.
    static constexpr std::size_t max_connections = 16;

    struct State;  // what the endpoint shares with its connections

private:
    std::shared_ptr<State> state_;
    std::optional<node::Acceptor> acceptor_;
};

}  // namespace dinx::cluster
