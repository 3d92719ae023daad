#pragma once
// A listening socket whose accepted connections are spread over an IoPool's contexts.

#include "node/io_pool.hpp"
#include "node/socket.hpp"

#include <asio/ip/tcp.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace dinx::node {

/// Accepts connections and hands each to the pool context it was accepted onto.
class Acceptor {
public:
    /// Called on context `index`'s thread with a connected socket bound to that context.
    using OnAccept = std::function<void(std::size_t index, Socket socket)>;

    /// Binds and listens at once (throws std::system_error if the address is taken); accepting
    /// starts with start(). Port 0 picks a free port. Connections are spread over the pool's
    /// contexts, or all go to context `only_index` when it is set.
    Acceptor(IoPool& pool, std::size_t home_index, const std::string& host, std::uint16_t port,
             OnAccept on_accept, std::optional<std::size_t> only_index = std::nullopt);
    ~Acceptor();
    Acceptor(const Acceptor&) = delete;
    Acceptor& operator=(const Acceptor&) = delete;

    /// The bound port (the chosen one when 0 was asked for).
    std::uint16_t port() const { return port_; }
    /// Starts the accept loop.
    void start();
    /// Stops accepting and closes the listening socket (safe from any thread).
    void close();
    /// Accepts the connections already waiting in the backlog, then closes like close(), then
    /// runs `then` on the acceptor's thread. Each waiting connection's OnAccept is posted before
    /// `then` runs, so work `then` posts to a context runs after that context's accepts.
    void close_after_backlog(std::function<void()> then);

private:
    struct State;
    std::shared_ptr<State> state_;
    std::uint16_t port_ = 0;
};

}  // namespace dinx::node
