#include "node/ticker.hpp"

namespace dinx::node {

Ticker::Ticker(asio::io_context& io, std::function<void()> on_tick)
    : timer_(io), on_tick_(std::move(on_tick)) {}

void Ticker::start(std::chrono::milliseconds period) {
    period_ = period;
    running_ = true;
    arm();
}

void Ticker::stop() {
    running_ = false;
    timer_.cancel();
}

void Ticker::arm() {
    timer_.expires_after(period_);
    // The ticker is destroyed on its own thread, after stop(): an aborted wait touches nothing.
    timer_.async_wait([this](std::error_code error) {
        if (error || !running_) return;
        on_tick_();
        if (running_) arm();
    });
}

}  // namespace dinx::node
