#pragma once
// Counts of one kind of event (clients closed for breaking a rule, links refused) by reason,
// logged as one summary line per interval instead of one line per event: a flood of hostile
// connections must not become a flood of log lines.

#include <spdlog/logger.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace dinx::node {

/// Events by reason, reported at most once per interval. Used on one thread.
class EventSummary {
public:
    /// `what` names the events in the line ("clients closed", "links refused").
    EventSummary(std::string what, std::chrono::milliseconds interval);

    /// Counts one event; `reason` must outlive the summary (a string literal); `example` (a peer
    /// address) is kept for the line when it is the first of its reason.
    void add(std::string_view reason, std::string_view example);
    /// Logs the counts at `level` if the interval passed since the last line, then clears them.
    void log_if_due(spdlog::logger& log, spdlog::level::level_enum level,
                    std::chrono::steady_clock::time_point now);
    /// Events counted and not logged yet.
    std::uint64_t pending() const;

private:
    struct Reason {
        std::string_view reason;
        std::uint64_t count = 0;
        std::string example;
    };

    std::string what_;
    std::chrono::milliseconds interval_;
    std::chrono::steady_clock::time_point logged_at_{};
    std::vector<Reason> reasons_;
};

}  // namespace dinx::node
