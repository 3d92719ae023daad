#pragma once
// A callback run every `period` on one io_context, until stopped. Checks that need time (dead
// peers, idle clients) run on a tick instead of reading the clock on every message.

#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>

#include <chrono>
#include <functional>

namespace dinx::node {

/// Calls `on_tick()` every period on its io_context's thread. Use and destroy it there.
class Ticker {
public:
    /// Idle until start().
    Ticker(asio::io_context& io, std::function<void()> on_tick);
    ~Ticker() { stop(); }
    Ticker(const Ticker&) = delete;
    Ticker& operator=(const Ticker&) = delete;

    /// Ticks every `period` from now on.
    void start(std::chrono::milliseconds period);
    /// No more ticks.
    void stop();

private:
    void arm();

    asio::steady_timer timer_;
    std::function<void()> on_tick_;
    std::chrono::milliseconds period_{0};
    bool running_ = false;
};

}  // namespace dinx::node
