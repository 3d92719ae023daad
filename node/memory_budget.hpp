#pragma once
// The bytes a process holds in buffers (send queues, partial frames, held and queued requests,
// shared broadcast frames), counted per io thread and summed when a decision needs the total,
// against one process-wide budget. The message path pays a plain store per change; only the
// rare decisions that matter under pressure read every thread's count.

#include "node/bytes.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

namespace dinx::node {

/// A frame shared by many connections (a broadcast): queued by reference, never copied.
using SharedBytes = std::shared_ptr<const ByteBuffer>;

/// A process-wide count of buffered bytes against a limit.
class MemoryBudget : public std::enable_shared_from_this<MemoryBudget> {
public:
    /// One io thread's count. Only that thread changes it (no atomic read-modify-write).
    class Account {
    public:
        /// Adds `delta` bytes (negative to release). Call on the owning thread only.
        void charge(std::int64_t delta) {
            bytes_.store(bytes_.load(std::memory_order_relaxed) + delta, std::memory_order_relaxed);
        }
        /// The bytes counted here now.
        std::int64_t bytes() const { return bytes_.load(std::memory_order_relaxed); }

    private:
        alignas(64) std::atomic<std::int64_t> bytes_{0};  // a cache line of its own
    };

    /// A budget of `limit_bytes` shared by `threads` io threads.
    static std::shared_ptr<MemoryBudget> create(std::size_t threads, std::uint64_t limit_bytes);

    /// The count of io thread `index`.
    Account& account(std::size_t index) { return accounts_[index]; }
    /// Bytes buffered in the whole process now.
    std::uint64_t used() const;
    /// The limit beyond which buffers are refused or reclaimed.
    std::uint64_t limit() const { return limit_; }
    /// True when the process holds more than its limit (sums every thread's count).
    bool over() const { return used() > limit_; }
    /// A copy of `frame` shared by all who queue it, counted here until the last one drops it.
    /// Any thread.
    SharedBytes share(ByteBuffer frame);
    /// Gives freed memory back to the system once the buffers shrank well below their peak or
    /// many connections went, so that a process returns near its idle size after a burst. Any
    /// thread; cheap when there is nothing to do.
    void return_freed_memory();
    /// A connection counted here is gone (its memory is free to give back). Any thread.
    void note_connection_gone();
    /// A connection's TLS or WebSocket handshake ended: what it took (key exchange, certificate
    /// work, handshake buffers) is free to give back, as a gone connection's is. Any thread.
    void note_handshake_done() { note_connection_gone(); }

    MemoryBudget(std::size_t threads, std::uint64_t limit_bytes);

private:
    using Clock = std::chrono::steady_clock;

    std::vector<Account> accounts_;
    std::uint64_t limit_;
    std::atomic<std::int64_t> shared_bytes_{0};  // released by whichever thread drops a frame
    std::atomic<std::uint64_t> peak_{0};         // highest total seen since the last trim
    std::atomic<bool> trimming_{false};
    std::atomic<int> followups_{0};                  // trims still due after the last burst
    std::atomic<std::int64_t> next_trim_{0};         // steady_clock ticks before which none is
    std::atomic<std::uint64_t> gone_since_trim_{0};  // connections gone since the last trim
};

}  // namespace dinx::node
