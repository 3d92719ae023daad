#pragma once
// What a shard asks of the node that owns it: the handlers, the count of clients across its
// shards, posting work to a sibling shard, and making room on a full gate. The node implements
// it, so a shard never includes the node's header.

#include "cluster/api/handler.hpp"
#include "cluster/runtime/client_endpoint.hpp"
#include "node/socket.hpp"

#include <asio/thread_pool.hpp>

#include <atomic>
#include <cstdint>
#include <functional>

namespace dinx::cluster {

class NodeShard;

/// The node of a shard, as the shard sees it.
class ShardHost {
public:
    virtual ~ShardHost() = default;
    /// The handlers of this process.
    virtual const HandlerTable& handlers() const = 0;
    /// Counts a new client in; false when max_connections are already connected.
    virtual bool admit_client() = 0;
    /// Counts a client out.
    virtual void release_client() = 0;
    /// Where shard `index` publishes how many of its clients never sent a complete frame.
    virtual std::atomic<std::uint32_t>& unproven_count(std::size_t index) = 0;
    /// Asks a shard other than `from` that holds an unproven client to evict it, then hands
    /// `socket` back to shard `from` through `then` (on its thread). False, leaving `socket`
    /// untouched, when no other shard holds one.
    virtual bool evict_elsewhere(std::size_t from, node::Socket&& socket,
                                 std::function<void(node::Socket)> then) = 0;
    /// Runs `work(shard)` on shard `index`'s thread.
    virtual void post_to_shard(std::size_t index, std::function<void(NodeShard&)> work) = 0;
    /// How connections of client listener `index` are set up (0 is the node's `port`).
    virtual const ClientEndpoint& client_endpoint(std::size_t index) const = 0;
    /// The wire layers of this node's links (TLS, or none).
    virtual const LinkLayers& link_layers() const = 0;
    /// The process's threads for blocking work (Context::blocking).
    virtual asio::thread_pool& workers() = 0;
};

}  // namespace dinx::cluster
