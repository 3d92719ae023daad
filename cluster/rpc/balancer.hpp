#pragma once
// Choosing a node of a group for a client: rendezvous hashing over the live nodes, so one
// client's messages to a group keep going to one node (ordered), and when a node dies only
// its clients move.

#include <cstdint>
#include <optional>
#include <span>

namespace dinx::cluster {

/// splitmix64's finaliser: cheap and well mixed, so neighbouring conn ids spread evenly.
constexpr std::uint64_t mix64(std::uint64_t x) {
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

/// The sticky key of a client: its gate and connection.
constexpr std::uint64_t sticky_key(std::uint32_t gate_id, std::uint64_t conn_id) {
    return mix64((std::uint64_t{gate_id} << 48) ^ conn_id);
}

/// The node of `nodes` with the highest hash for `key` among those `is_live(id)` accepts. When
/// `avoid` is set, that node is chosen only if no other is live. nullopt when none is live.
template <class IsLive>
std::optional<std::uint32_t> pick_node(std::span<const std::uint32_t> nodes, std::uint64_t key,
                                       IsLive&& is_live,
                                       std::optional<std::uint32_t> avoid = std::nullopt) {
    std::optional<std::uint32_t> best;
    std::uint64_t best_score = 0;
    bool avoided_is_live = false;
    for (auto id : nodes) {
        if (!is_live(id)) continue;
        if (avoid && id == *avoid) {
            avoided_is_live = true;
            continue;
        }
        auto score = mix64(key ^ mix64(id));
        if (!best || score > best_score) {
            best = id;
            best_score = score;
        }
    }
    if (!best && avoided_is_live) return avoid;
    return best;
}

}  // namespace dinx::cluster
