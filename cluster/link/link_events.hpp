#pragma once
// The seam between a link and the shard it belongs to: what a Link needs to know of its node,
// and what it tells it, so that neither includes the other.

#include "cluster/link/envelope.hpp"
#include "cluster/link/link_handshake.hpp"
#include "node/memory_budget.hpp"
#include "node/wire_layer.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace dinx::cluster {

class Drain;
class Link;

/// What happens on a shard's links.
class LinkEvents {
public:
    virtual ~LinkEvents() = default;
    /// A link finished its handshake: it may carry traffic.
    virtual void on_link_ready(const std::shared_ptr<Link>& link) = 0;
    /// An envelope arrived on a ready link.
    virtual void on_link_envelope(Link& link, const Envelope& envelope) = 0;
    /// A link closed (once).
    virtual void on_link_closed(Link& link) = 0;
};

/// What every link of a shard knows of its node. Owned by the shard, which outlives its links'
/// callbacks.
struct LinkSetup {
    std::uint32_t self_id = 0;                           ///< this node's id
    std::string secret;                                  ///< the cluster secret ("" = none)
    std::function<bool(std::uint32_t)> is_cluster_node;  ///< may this id link to us
    std::shared_ptr<node::MemoryBudget> budget;          ///< where buffers are counted
    std::size_t account = 0;                             ///< the shard's account in it
    LinkEvents* events = nullptr;                        ///< the shard
    Drain* drain = nullptr;                              ///< what the shard owes
    /// Links over TLS: layers for the links this node accepts and for those it dials (both
    /// null: plain TCP).
    std::shared_ptr<const node::WireLayerFactory> accepted_layers;
    std::shared_ptr<const node::WireLayerFactory> dialed_layers;
    /// What this node announces in every handshake: the newest link protocol it speaks, or an
    /// older one during a rolling upgrade (--link-protocol).
    LinkOffer offer = current_link_offer;
};

}  // namespace dinx::cluster
