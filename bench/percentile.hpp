#pragma once
// Latency percentiles of a run's samples, shared by the load tool and the call bench so that
// their p50/p99/p999 columns are computed the same way.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace dinx::bench {

/// The `fraction` percentile (0.99 = p99) of `samples` (nanoseconds) in microseconds; 0 when
/// there are none. Reorders `samples` (nth_element).
inline double percentile_us(std::vector<std::uint32_t>& samples, double fraction) {
    if (samples.empty()) return 0;
    auto at = static_cast<std::size_t>(fraction * static_cast<double>(samples.size() - 1));
    std::nth_element(samples.begin(), samples.begin() + static_cast<std::ptrdiff_t>(at),
                     samples.end());
    return samples[at] / 1000.0;
}

}  // namespace dinx::bench
