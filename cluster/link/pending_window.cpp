#include "cluster/link/pending_window.hpp"

#include <algorithm>

namespace dinx::cluster {

PendingWindow::PendingWindow(std::size_t ring_limit) : ring_(16), ring_limit_(ring_limit) {}

std::uint64_t PendingWindow::add(PendingRequest request) {
    if (next_ - first_ == ring_.size()) make_room();
    slot(next_) = std::move(request);
    ++live_;
    return next_++;
}

void PendingWindow::make_room() {
    if (ring_.size() < ring_limit_) {
        std::vector<std::optional<PendingRequest>> bigger(ring_.size() * 2);
        for (auto seq = first_; seq < next_; ++seq)
            bigger[seq & (bigger.size() - 1)] = std::move(slot(seq));
        ring_.swap(bigger);
        return;
    }
    // The oldest request is still unfinished (the ring is full): it waits aside.
    stragglers_.emplace(first_, std::move(*slot(first_)));
    slot(first_).reset();
    --live_;
    ++first_;
    skip_finished();
}

std::optional<PendingRequest> PendingWindow::finish(std::uint64_t seq) {
    if (seq >= first_ && seq < next_) {
        auto& entry = slot(seq);
        if (!entry) return std::nullopt;
        std::optional<PendingRequest> request = std::move(entry);
        entry.reset();
        --live_;
        skip_finished();
        return request;
    }
    auto it = stragglers_.find(seq);
    if (it == stragglers_.end()) return std::nullopt;
    PendingRequest request = std::move(it->second);
    stragglers_.erase(it);
    return request;
}

PendingRequest* PendingWindow::find(std::uint64_t seq) {
    if (seq >= first_ && seq < next_) {
        auto& entry = slot(seq);
        return entry ? &*entry : nullptr;
    }
    auto it = stragglers_.find(seq);
    return it == stragglers_.end() ? nullptr : &it->second;
}

void PendingWindow::skip_finished() {
    while (first_ < next_ && !slot(first_)) ++first_;
}

std::vector<std::pair<std::uint64_t, PendingRequest>> PendingWindow::take_all() {
    std::vector<std::pair<std::uint64_t, PendingRequest>> all(
        std::make_move_iterator(stragglers_.begin()), std::make_move_iterator(stragglers_.end()));
    stragglers_.clear();
    for (auto seq = first_; seq < next_; ++seq) {
        if (auto& entry = slot(seq)) all.emplace_back(seq, std::move(*entry));
        slot(seq).reset();
    }
    std::sort(all.begin(), all.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    first_ = next_;
    live_ = 0;
    return all;
}

}  // namespace dinx::cluster
