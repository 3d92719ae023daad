#pragma once
// SIGINT and SIGTERM turned into one call on an io_context.

#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>

#include <functional>

namespace dinx::node {

/// Calls `on_stop(signal)` on `context`'s thread when SIGINT or SIGTERM arrives.
class StopSignals {
public:
    /// Installs the handlers; they stay until this object is destroyed.
    StopSignals(asio::io_context& context, std::function<void(int)> on_stop)
        : signals_(context, SIGINT, SIGTERM), on_stop_(std::move(on_stop)) {
        signals_.async_wait([this](std::error_code error, int signal) {
            if (!error) on_stop_(signal);
        });
    }

private:
    asio::signal_set signals_;
    std::function<void(int)> on_stop_;
};

}  // namespace dinx::node
