#include "cluster/runtime/shard_waits.hpp"

#include <asio/post.hpp>

namespace dinx::cluster {

void ShardWaits::sleep(std::chrono::milliseconds delay, std::coroutine_handle<> waiting) {
    auto timer = timers_.emplace(timers_.end(), io_, delay);
    // Woken early (wake_all) or on time, the coroutine resumes either way.
    timer->async_wait([this, timer, waiting](std::error_code) {
        timers_.erase(timer);
        waiting.resume();
    });
}

void ShardWaits::blocking(std::function<void()> work, std::exception_ptr& error,
                          std::coroutine_handle<> waiting) {
    asio::post(workers_, [this, work = std::move(work), &error, waiting] {
        try {
            work();
        } catch (...) {
            error = std::current_exception();
        }
        // The resumption is handed to the shard's thread; `error` is read there, after this post.
        asio::post(io_, [waiting] { waiting.resume(); });
    });
}

void ShardWaits::wake_all() {
    for (auto& timer : timers_) timer.cancel();
}

}  // namespace dinx::cluster
