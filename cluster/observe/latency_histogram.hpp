#pragma once
// Request latencies as Prometheus takes them: a count per bucket of fixed bounds, the number of
// observations and their sum. Fixed bounds keep observe() a short scan with no allocation and
// make one shard's histogram addable to another's at scrape time.

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>

namespace dinx::cluster {

/// Latencies of one msgID on one shard.
struct LatencyHistogram {
    /// Upper bounds of the buckets in microseconds, from a loopback hop to a stuck backend; one
    /// more bucket (+Inf) takes the rest.
    static constexpr std::array<std::uint64_t, 17> bounds_us{
        50,     100,     250,     500,     1'000,     2'500,     5'000,     10'000,    25'000,
        50'000, 100'000, 250'000, 500'000, 1'000'000, 2'500'000, 5'000'000, 10'000'000};

    std::array<std::uint64_t, bounds_us.size() + 1> buckets{};  ///< per bucket (not cumulative)
    std::uint64_t count = 0;                                    ///< observations
    std::uint64_t sum_ns = 0;                                   ///< their sum, in nanoseconds

    /// Counts one latency.
    void observe(std::chrono::nanoseconds latency) {
        auto ns = latency.count() > 0 ? static_cast<std::uint64_t>(latency.count()) : 0;
        std::size_t i = 0;
        while (i < bounds_us.size() && ns > bounds_us[i] * 1000) ++i;
        ++buckets[i];
        ++count;
        sum_ns += ns;
    }
    /// Adds another shard's latencies to these.
    void add(const LatencyHistogram& other) {
        for (std::size_t i = 0; i < buckets.size(); ++i) buckets[i] += other.buckets[i];
        count += other.count;
        sum_ns += other.sum_ns;
    }
};

}  // namespace dinx::cluster
