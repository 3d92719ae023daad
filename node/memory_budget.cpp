#include "node/memory_budget.hpp"

#include <malloc.h>

#include <algorithm>
#include <chrono>

namespace dinx::node {
namespace {

// Blocks from this size on are mapped on their own and unmapped when freed.
constexpr int large_block = 128 * 1024;

// Worth a malloc_trim: the buffers shrank by at least this much since their peak.
constexpr std::uint64_t trim_after_shrinking = 8 << 20;
// Or this many connections went since the last trim.
constexpr std::uint64_t trim_after_gone = 64;
// Trims after that one, a second apart, for what the burst's connections free as they close.
constexpr int trim_followups = 3;
// At most one trim this often, but for a shrink of the buffers (which cannot repeat fast).
constexpr std::chrono::seconds trim_spacing{1};

}  // namespace

std::shared_ptr<MemoryBudget> MemoryBudget::create(std::size_t threads, std::uint64_t limit_bytes) {
    // glibc serves large blocks with mmap only until one is freed, then raises that threshold
    // (up to 32 MiB): a burst's send queues then land in the heap among small long-lived blocks,
    // which pin their pages long after the burst (tens of MiB that malloc_trim cannot return).
    // A fixed threshold keeps large buffers out of the heap, so they go back when freed.
    ::mallopt(M_MMAP_THRESHOLD, large_block);
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

void MemoryBudget::note_connection_gone() {
    gone_since_trim_.fetch_add(1, std::memory_order_relaxed);
}

void MemoryBudget::return_freed_memory() {
    auto now = used();
    auto peak = peak_.load(std::memory_order_relaxed);
    while (now > peak && !peak_.compare_exchange_weak(peak, now, std::memory_order_relaxed)) {
    }
    auto clock = Clock::now().time_since_epoch().count();
    bool due = clock >= next_trim_.load(std::memory_order_relaxed);
    bool shrank = peak >= now + trim_after_shrinking;
    // Connections that went, and handshakes that ended, freed memory beyond their buffers
    // (sessions, sockets' state; TLS key exchanges, which leave a connection's pages
    // half-empty: 800 idle TLS clients held 46 KB each before a trim, 23 KB after).
    bool many_gone = gone_since_trim_.load(std::memory_order_relaxed) >= trim_after_gone;
    // After a burst more is freed as its connections close: trim a few more times, later.
    bool follow_up = followups_.load(std::memory_order_relaxed) > 0;
    if (!shrank && !(due && (many_gone || follow_up))) return;
    if (trimming_.exchange(true, std::memory_order_acquire)) return;  // another thread does it
    // glibc keeps freed heap pages for reuse; after a burst that is most of a process's RSS.
    ::malloc_trim(0);
    peak_.store(used(), std::memory_order_relaxed);
    gone_since_trim_.store(0, std::memory_order_relaxed);
    if (shrank || many_gone)
        followups_.store(trim_followups, std::memory_order_relaxed);
    else
        followups_.fetch_sub(1, std::memory_order_relaxed);
    next_trim_.store((Clock::now() + trim_spacing).time_since_epoch().count(),
                     std::memory_order_relaxed);
    trimming_.store(false, std::memory_order_release);
}

}  // namespace dinx::node
