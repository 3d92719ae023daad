#include "node/memory_budget.hpp"

#include <malloc.h>

#include <algorithm>
#include <chrono>

namespace dinx::node {
namespace {

// Worth a malloc_trim: the buffers shrank by at least this much since their peak.
constexpr std::uint64_t trim_after_shrinking = 8 << 20;
// Trims after that one, a second apart, for what the burst's connections free as they close.
constexpr int trim_followups = 3;
constexpr std::chrono::seconds followup_delay{1};

}  // namespace

std::shared_ptr<MemoryBudget> MemoryBudget::create(std::size_t threads, std::uint64_t limit_bytes) {
    return std::make_shared<MemoryBudget>(threads, limit_bytes);
}

MemoryBudget::MemoryBudget(std::size_t threads, std::uint64_t limit_bytes)
    : accounts_(threads), limit_(limit_bytes) {}

std::uint64_t MemoryBudget::used() const {
    std::int64_t total = shared_bytes_.load(std::memory_order_relaxed);
    for (const auto& account : accounts_) total += account.bytes();
    return total > 0 ? static_cast<std::uint64_t>(total) : 0;
}

SharedBytes MemoryBudget::share(ByteBuffer frame) {
    auto size = static_cast<std::int64_t>(frame.size());
    shared_bytes_.fetch_add(size, std::memory_order_relaxed);
    // The deleter keeps the budget alive: a frame may outlive the node that made it in a queue.
    return SharedBytes(new ByteBuffer(std::move(frame)),
                       [budget = shared_from_this(), size](const ByteBuffer* bytes) {
                           budget->shared_bytes_.fetch_sub(size, std::memory_order_relaxed);
                           delete bytes;
                       });
}

void MemoryBudget::return_freed_memory() {
    auto now = used();
    auto peak = peak_.load(std::memory_order_relaxed);
    while (now > peak && !peak_.compare_exchange_weak(peak, now, std::memory_order_relaxed)) {
    }
    auto clock = Clock::now().time_since_epoch().count();
    bool shrank = peak >= now + trim_after_shrinking;
    // After a burst more is freed as its connections close: trim a few more times, later.
    bool follow_up = followups_.load(std::memory_order_relaxed) > 0 &&
                     clock >= next_followup_.load(std::memory_order_relaxed);
    if (!shrank && !follow_up) return;
    if (trimming_.exchange(true, std::memory_order_acquire)) return;  // another thread does it
    // glibc keeps freed heap pages for reuse; after a burst that is most of a process's RSS.
    ::malloc_trim(0);
    peak_.store(used(), std::memory_order_relaxed);
    if (shrank)
        followups_.store(trim_followups, std::memory_order_relaxed);
    else
        followups_.fetch_sub(1, std::memory_order_relaxed);
    next_followup_.store((Clock::now() + followup_delay).time_since_epoch().count(),
                         std::memory_order_relaxed);
    trimming_.store(false, std::memory_order_release);
}

}  // namespace dinx::node
