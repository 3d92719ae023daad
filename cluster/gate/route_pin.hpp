#pragma once
// Keeping one client's requests to one group in order when the group's node changes.
//
// A client's requests to a group go to one node (rendezvous-sticky), so they are handled and
// answered in order. When that node dies or drains, or comes back, the choice changes; if
// requests were still in flight on the old node, new ones on the new node could be answered
// first. So while requests are in flight, a client stays pinned to their node; if that node
// cannot take more (dead, draining, no longer in its group after a live reload), the client's
// next requests are held until the earlier ones are answered or failed, and only then routed
// afresh. A msgID that a reload moved to another group waits the same way behind the client's
// requests in flight to its former group.

#include "dict/topology.hpp"
#include "node/bytes.hpp"

#include <cstdint>
#include <vector>

namespace dinx::cluster {

/// Why a held request will be answered with an error frame, in its turn, instead of routed.
enum class Refusal : std::uint8_t {
    none,        ///< route it
    overloaded,  ///< the hold was full
    stopping,    ///< the gate is draining
};

/// A client request held back to keep its place in line.
struct HeldRequest {
    std::uint32_t msg_id = 0;
    ByteBuffer payload;  ///< empty when refused
    Refusal refusal = Refusal::none;
    std::uint32_t size = 0;  ///< the payload's size as the client sent it (counted in flight)
};

/// Where one client's requests to one group go while some are in flight.
struct RoutePin {
    dict::GroupId group = 0;        ///< the group it is about
    std::uint32_t node = 0;         ///< the node of the requests in flight
    std::uint32_t in_flight = 0;    ///< requests sent there and not finished
    std::vector<HeldRequest> held;  ///< waiting for them, oldest first
    /// The topology generation `node` was chosen under: after a live reload the choice is
    /// made again, once the requests in flight are answered (the node may have left the group,
    /// or another may now be the client's).
    std::uint32_t generation = 0;
};

/// Requests a client may have held at once; beyond that they become `overloaded` errors, still
/// answered in order.
inline constexpr std::size_t max_held_requests = 1024;

}  // namespace dinx::cluster
