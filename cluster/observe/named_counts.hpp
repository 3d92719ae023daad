#pragma once
// Counts by name, for the few names an event can have (an error frame's code, the rule a client
// broke): the first `limit` names each get their own count and later ones share "other", so
// whatever a game or a client does, a scrape shows a bounded number of series.

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace dinx::cluster {

/// A small, bounded table of counts by name. Copyable; used on one thread.
class NamedCounts {
public:
    /// Names in the table at most, "other" included.
    static constexpr std::size_t limit = 32;

    /// Adds `n` to `name`'s count.
    void add(std::string_view name, std::uint64_t n = 1) {
        if (auto* count = find(name)) {
            *count += n;
            return;
        }
        if (counts_.size() + 1 < limit) {
            counts_.emplace_back(std::string(name), n);
            return;
        }
        // Full: the last place is kept for "other".
        if (auto* other = find("other"))
            *other += n;
        else
            counts_.emplace_back("other", n);
    }
    /// Every name counted so far, in order of first use.
    const std::vector<std::pair<std::string, std::uint64_t>>& entries() const { return counts_; }

private:
    std::uint64_t* find(std::string_view name) {
        for (auto& [known, count] : counts_)
            if (known == name) return &count;
        return nullptr;
    }

    std::vector<std::pair<std::string, std::uint64_t>> counts_;
};

}  // namespace dinx::cluster
