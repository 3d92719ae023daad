#pragma once
// Connecting with a deadline, and the back-off between failed attempts.

#include <asio/awaitable.hpp>
#include "node/socket.hpp"

#include <chrono>
#include <cstdint>
#include <string>
#include <system_error>

namespace dinx::node {

/// Connects `socket` to host:port (an address or a name) or fails with timed_out after `timeout`.
asio::awaitable<std::error_code> dial(Socket& socket, std::string host, std::uint16_t port,
                                      std::chrono::milliseconds timeout);

/// Capped exponential back-off: min, 2*min, 4*min ... max. Not thread-safe.
class Backoff {
public:
    /// Delays grow from `min` and stop at `max`.
    Backoff(std::chrono::milliseconds min, std::chrono::milliseconds max) : min_(min), max_(max) {}
    /// Records a failure and returns how long to wait before the next attempt.
    std::chrono::milliseconds next_delay();
    /// Forgets past failures (after a success).
    void reset() { failures_ = 0; }
    /// Failures since the last success.
    int failures() const { return failures_; }

private:
    std::chrono::milliseconds min_;
    std::chrono::milliseconds max_;
    int failures_ = 0;
};

}  // namespace dinx::node
