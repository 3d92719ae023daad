#include "cluster/balancer.hpp"

namespace dinx::cluster {
namespace {

// splitmix64 finaliser: cheap and well mixed, so neighbouring conn ids spread evenly.
std::uint64_t mix(std::uint64_t x) {
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

}  // namespace

std::uint64_t sticky_key(std::uint32_t gate_id, std::uint64_t conn_id) {
    return mix((std::uint64_t{gate_id} << 48) ^ conn_id);
}

std::optional<std::uint32_t> pick_node(std::span<const std::uint32_t> nodes, std::uint64_t key,
                                       const std::function<bool(std::uint32_t)>& is_live,
                                       std::optional<std::uint32_t> avoid) {
    std::optional<std::uint32_t> best;
    std::uint64_t best_score = 0;
    bool avoided_is_live = false;
    for (auto id : nodes) {
        if (!is_live(id)) continue;
        if (avoid && id == *avoid) {
            avoided_is_live = true;
            continue;
        }
        auto score = mix(key ^ mix(id));
        if (!best || score > best_score) {
            best = id;
            best_score = score;
        }
    }
    if (!best && avoided_is_live) return avoid;
    return best;
}

}  // namespace dinx::cluster
