#pragma once
// What a suspended coroutine of one shard waits for besides calls: a timer (Context::sleep) or
// work on a worker thread (Context::blocking). Either resumes the coroutine on the shard's
// thread. When the shard stops, every sleeper is resumed at once, so no coroutine is left
// suspended for ever.

#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/thread_pool.hpp>

#include <chrono>
#include <coroutine>
#include <exception>
#include <functional>
#include <list>

namespace dinx::cluster {

/// Timers and blocking work of one shard. Used on its thread, except what runs on the workers.
class ShardWaits {
public:
    /// Waits of the shard whose thread runs `io`, with `workers` for blocking work.
    ShardWaits(asio::io_context& io, asio::thread_pool& workers) : io_(io), workers_(workers) {}
    ShardWaits(const ShardWaits&) = delete;
    ShardWaits& operator=(const ShardWaits&) = delete;

    /// Resumes `waiting` after `delay`, or when the shard stops, whichever is first.
    void sleep(std::chrono::milliseconds delay, std::coroutine_handle<> waiting);
    /// Runs `work` on a worker thread, stores what it threw in `error`, then resumes `waiting` on
    /// the shard's thread.
    void blocking(std::function<void()> work, std::exception_ptr& error,
                  std::coroutine_handle<> waiting);
    /// Resumes every sleeper now (the shard stops).
    void wake_all();
    /// Sleepers now.
    std::size_t sleepers() const { return timers_.size(); }

private:
    asio::io_context& io_;
    asio::thread_pool& workers_;
    std::list<asio::steady_timer> timers_;
};

/// Awaiting it suspends the coroutine for a while (Context::sleep).
struct SleepAwaiter {
    ShardWaits& waits;                ///< the shard's waits
    std::chrono::milliseconds delay;  ///< how long
    bool await_ready() const noexcept { return delay.count() <= 0; }
    void await_suspend(std::coroutine_handle<> waiting) { waits.sleep(delay, waiting); }
    void await_resume() const noexcept {}
};

/// Awaiting it runs work on a worker thread (Context::blocking).
struct BlockingAwaiter {
    ShardWaits& waits;           ///< the shard's waits
    std::function<void()> work;  ///< what runs on the worker
    std::exception_ptr error{};  ///< what it threw
    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> waiting) {
        waits.blocking(std::move(work), error, waiting);
    }
    /// Rethrows what the work threw.
    void await_resume() const {
        if (error) std::rethrow_exception(error);
    }
};

}  // namespace dinx::cluster
