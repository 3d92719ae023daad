#pragma once
// How a gate's presence reaches every other node: on shard 0 of the gate, one link per node
// carries a reset and a snapshot when it comes up, then every change in order. A node whose
// link is gone is dialed again on the next tick and gets a new snapshot.

#include "cluster/gate/presence.hpp"
#include "cluster/link/link_table.hpp"
#include "cluster/runtime/shard_context.hpp"

#include <memory>
#include <unordered_map>
#include <vector>

namespace dinx::cluster {

/// Publishes one gate's presence. Used on the gate's shard 0 only.
class PresencePublisher {
public:
    /// The publisher of the gate `context` describes, sending over `links`.
    PresencePublisher(ShardContext& context, LinkTable& links);

    /// Sends the directory's outbox to every node that has its snapshot.
    void flush();
    /// Gives a snapshot to each node that has none over a live link, dialing those without one.
    void tick();
    /// A link came up: its node gets a snapshot now if it has no live one.
    void on_link_ready(const std::shared_ptr<Link>& link);

private:
    /// Sends a snapshot of this gate's sessions to `node_id` over `link`, which carries its
    /// changes from now on.
    void publish_snapshot(std::uint32_t node_id, const std::shared_ptr<Link>& link);
    /// True when `node_id` got a snapshot over a link that is still open.
    bool published(std::uint32_t node_id) const;
    /// Sends `updates` over `link` in batches.
    void send(Link& link, const std::vector<PresenceUpdate>& updates);

    ShardContext& context_;
    LinkTable& links_;
    std::unordered_map<std::uint32_t, std::weak_ptr<Link>> published_;
};

}  // namespace dinx::cluster
