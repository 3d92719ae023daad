#pragma once
// Frames to clients anywhere: on this shard, on another shard of this gate (posted to its
// thread), or on another gate (over a link); session updates the same way; broadcasts to every
// client of every gate, one shared frame per gate.

#include "cluster/api/error.hpp"
#include "cluster/gate/client_table.hpp"
#include "cluster/gate/directory.hpp"
#include "cluster/gate/session_keeper.hpp"
#include "cluster/link/link_table.hpp"
#include "cluster/runtime/shard_context.hpp"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace dinx::cluster {

/// The way to clients, for one shard. Used on its thread only.
class Delivery {
public:
    /// Runs a function with shard `index`'s Delivery on that shard's thread.
    using PostToShard = std::function<void(std::size_t index, std::function<void(Delivery&)>)>;

    /// Delivery of the shard `context` describes, whose clients are `clients`.
    Delivery(ShardContext& context, ClientTable& clients, LinkTable& links, PostToShard post);

    /// Delivers a frame to a client of any gate.
    void deliver(std::uint32_t gate_id, std::uint64_t conn_id, std::uint32_t msg_id, Bytes payload);
    /// Delivers a frame to a client of this shard (dropped when it is gone).
    void deliver_here(std::uint64_t conn_id, std::uint32_t msg_id, Bytes payload);
    /// Applies encoded SessionChanges to a client of any gate.
    void apply_session(std::uint32_t gate_id, std::uint64_t conn_id, Bytes changes);
    /// Sends a frame to the connections `targets` name, one envelope per gate.
    void multicast(const std::vector<GateTargets>& targets, std::uint32_t msg_id, Bytes payload);
    /// Sends a frame to several clients of this gate (any shard).
    void multicast_here(const std::vector<std::uint64_t>& conn_ids, std::uint32_t msg_id,
                        Bytes payload);
    /// Ends the session `conn_id` of gate `gate_id` if it still holds `uid` (a kick, or a
    /// login that lost to a newer one).
    void end_session(std::uint32_t gate_id, std::uint64_t conn_id, const std::string& uid,
                     DisconnectReason reason, std::string why);
    /// The session side of this shard (set once by the shard).
    void set_keeper(SessionKeeper* keeper) { keeper_ = keeper; }
    /// Sends a frame to every client of every gate.
    void broadcast(std::uint32_t msg_id, Bytes payload);
    /// Sends a frame to every client of this gate (every shard).
    void broadcast_here(std::uint32_t msg_id, Bytes payload);
    /// Sends an error frame about request `msg_id` to a client of any gate.
    void send_error(std::uint32_t gate_id, std::uint64_t conn_id, std::uint32_t msg_id, Error code,
                    const std::string& why);

private:
    /// The shard that owns connection `conn_id` of this node.
    std::size_t shard_of(std::uint64_t conn_id) const;
    /// Runs `work(Delivery&, Bytes)` with `bytes` on the shard that owns `conn_id`.
    template <class Work>
    void on_shard_of(std::uint64_t conn_id, Bytes bytes, Work work);

    ShardContext& context_;
    ClientTable& clients_;
    LinkTable& links_;
    PostToShard post_;
    SessionKeeper* keeper_ = nullptr;
};

}  // namespace dinx::cluster
