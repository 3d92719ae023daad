#include "node/io_pool.hpp"

#include <algorithm>

namespace dinx::node {

IoPool::IoPool(std::size_t threads) {
    if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
    for (std::size_t i = 0; i < threads; ++i) {
        // Concurrency hint 1: each context is run by one thread, so asio may skip some locking.
        contexts_.push_back(std::make_unique<asio::io_context>(1));
        work_.emplace_back(contexts_.back()->get_executor());
    }
}

IoPool::~IoPool() {
    stop();
    join();
}

void IoPool::start() {
    running_ = contexts_.size();
    for (auto& context : contexts_) {
        threads_.emplace_back([this, &context] {
            context->run();
            std::lock_guard lock(mutex_);
            --running_;
            idle_.notify_all();
        });
    }
}

bool IoPool::wait_idle(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    return idle_.wait_for(lock, timeout, [this] { return running_ == 0; });
}

void IoPool::release_work() {
    for (auto& guard : work_) guard.reset();
}

void IoPool::stop() {
    for (auto& context : contexts_) context->stop();
}

void IoPool::join() {
    for (auto& thread : threads_)
        if (thread.joinable()) thread.join();
    threads_.clear();
}

bool IoPool::on_pool_thread() const {
    auto self = std::this_thread::get_id();
    return std::any_of(threads_.begin(), threads_.end(),
                       [self](const std::thread& t) { return t.get_id() == self; });
}

}  // namespace dinx::node
