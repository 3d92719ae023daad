#pragma once
// Choosing a node of a group for a client: rendezvous hashing over the live nodes, so one
// client's messages to a group keep going to one node (ordered), and when a node dies only
// its clients move.

#include <cstdint>
#include <functional>
#include <optional>
#include <span>

namespace dinx::cluster {

/// The sticky key of a client: its gate and connection.
std::uint64_t sticky_key(std::uint32_t gate_id, std::uint64_t conn_id);

/// The node of `nodes` with the highest hash for `key` among those `is_live` accepts. When
/// `avoid` is set, that node is chosen only if no other is live. nullopt when none is live.
std::optional<std::uint32_t> pick_node(std::span<const std::uint32_t> nodes, std::uint64_t key,
                                       const std::function<bool(std::uint32_t)>& is_live,
                                       std::optional<std::uint32_t> avoid = std::nullopt);

}  // namespace dinx::cluster
