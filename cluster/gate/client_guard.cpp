#include "cluster/gate/client_guard.hpp"

namespace dinx::cluster {
namespace {

// One summary line per kind at most this often.
constexpr std::chrono::seconds summary_interval{5};

}  // namespace

ClientGuard::ClientGuard(std::atomic<std::uint32_t>& unproven_count)
    : unproven_count_(unproven_count),
      closed_("clients closed for breaking a rule", summary_interval),
      refused_("client connections refused", summary_interval) {}

void ClientGuard::track(std::uint64_t conn_id) {
    unproven_.insert(conn_id);
    unproven_count_.store(static_cast<std::uint32_t>(unproven_.size()), std::memory_order_relaxed);
}

void ClientGuard::forget(std::uint64_t conn_id) {
    if (unproven_.erase(conn_id) == 0) return;
    unproven_count_.store(static_cast<std::uint32_t>(unproven_.size()), std::memory_order_relaxed);
}

std::optional<std::uint64_t> ClientGuard::oldest_unproven() const {
    if (unproven_.empty()) return std::nullopt;
    return *unproven_.begin();
}

void ClientGuard::note_violation(std::string_view violation, std::string_view remote) {
    closed_.add(violation, remote);
}

void ClientGuard::note_refused(std::string_view why, std::string_view remote) {
    refused_.add(why, remote);
}

void ClientGuard::log_if_due(spdlog::logger& log, std::chrono::steady_clock::time_point now) {
    closed_.log_if_due(log, spdlog::level::warn, now);
    refused_.log_if_due(log, spdlog::level::warn, now);
}

}  // namespace dinx::cluster
