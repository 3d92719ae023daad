#include "node/event_summary.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace dinx::node {

EventSummary::EventSummary(std::string what, std::chrono::milliseconds interval)
    : what_(std::move(what)), interval_(interval) {}

void EventSummary::add(std::string_view reason, std::string_view example) {
    auto it = std::find_if(reasons_.begin(), reasons_.end(),
                           [&](const Reason& r) { return r.reason == reason; });
    if (it == reasons_.end()) it = reasons_.insert(reasons_.end(), Reason{reason, 0, {}});
    if (it->count++ == 0) it->example = example;
}

std::uint64_t EventSummary::pending() const {
    std::uint64_t total = 0;
    for (const auto& r : reasons_) total += r.count;
    return total;
}

void EventSummary::log_if_due(spdlog::logger& log, spdlog::level::level_enum level,
                              std::chrono::steady_clock::time_point now) {
    if (reasons_.empty() || now - logged_at_ < interval_) return;
    std::string line = fmt::format("{} {}", pending(), what_);
    char separator = ':';
    for (const auto& r : reasons_) {
        line += fmt::format("{} {} {} (e.g. {})", separator, r.count, r.reason, r.example);
        separator = ';';
    }
    log.log(level, "{}", line);
    logged_at_ = now;
    reasons_.clear();
}

}  // namespace dinx::node
