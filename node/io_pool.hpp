#pragma once
// A fixed set of io_contexts, each run by exactly one thread: everything bound to a context is
// touched by one thread only, so per-connection state needs no locks.

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace dinx::node {

/// N single-threaded io_contexts and their threads.
class IoPool {
public:
    /// `threads` contexts; 0 means one per core.
    explicit IoPool(std::size_t threads);
    ~IoPool();
    IoPool(const IoPool&) = delete;
    IoPool& operator=(const IoPool&) = delete;

    /// Number of contexts (and threads).
    std::size_t size() const { return contexts_.size(); }
    /// The i-th context.
    asio::io_context& context(std::size_t index) { return *contexts_[index]; }
    /// Index of the context that should take the next connection (round robin).
    std::size_t next_index() { return next_.fetch_add(1, std::memory_order_relaxed) % size(); }

    /// Starts one thread per context.
    void start();
    /// Lets each context's run() return once it has no more work.
    void release_work();
    /// Stops every context at once, abandoning queued handlers.
    void stop();
    /// Waits for the threads to end.
    void join();
    /// Waits up to `timeout` for every context to run out of work; true if they all did.
    bool wait_idle(std::chrono::milliseconds timeout);
    /// True when called on one of the pool's threads.
    bool on_pool_thread() const;

private:
    using WorkGuard = asio::executor_work_guard<asio::io_context::executor_type>;
    std::vector<std::unique_ptr<asio::io_context>> contexts_;
    std::vector<WorkGuard> work_;
    std::vector<std::thread> threads_;
    std::atomic<std::size_t> next_{0};
    std::mutex mutex_;
    std::condition_variable idle_;
    std::size_t running_ = 0;
};

}  // namespace dinx::node
