#pragma once
// The signals a node process acts on, turned into calls on an io_context: SIGINT and SIGTERM
// stop it, SIGHUP reloads its config.

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

/// Calls `on_reload()` on `context`'s thread each time SIGHUP arrives.
class ReloadSignal {
public:
    /// Installs the handler; it stays until this object is destroyed.
    ReloadSignal(asio::io_context& context, std::function<void()> on_reload)
        : signal_(context, SIGHUP), on_reload_(std::move(on_reload)) {
        wait();
    }

private:
    void wait() {
        signal_.async_wait([this](std::error_code error, int) {
            if (error) return;
            on_reload_();
            wait();
        });
    }

    asio::signal_set signal_;
    std::function<void()> on_reload_;
};

}  // namespace dinx::node
