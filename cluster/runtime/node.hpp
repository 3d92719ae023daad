#pragma once
// One node of dinx.toml running in this process: its listeners and one shard per io thread.

#include "cluster/api/handler.hpp"
#include "cluster/gate/directory.hpp"
#include "cluster/observe/node_stats.hpp"
#include "cluster/runtime/address_book.hpp"
#include "cluster/runtime/shard_host.hpp"
#include "dict/topology.hpp"
#include "node/acceptor.hpp"
#include "node/io_pool.hpp"
#include "node/memory_budget.hpp"

#include <spdlog/logger.h>
#include <asio/post.hpp>

#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

namespace dinx::cluster {

class NodeShard;

/// A running node: a frontend (client listener + link listener) or a backend (link listener).
/// A frontend, or a backend marked `parallel`, has one shard per io thread; any other backend
/// has one shard, on io thread `home_thread`, so its handlers never run concurrently.
class Node final : public ShardHost {
public:
    /// Node `info` of `topology`, using `pool`'s threads (and `workers` for blocking work) and
    /// counting its buffers in `budget`. Nothing listens until listen(). Throws
    /// dict::ConfigError when a client listener cannot be set up (a certificate OpenSSL
    /// refuses, a framing no one registered).
    Node(const dict::NodeInfo& info, std::shared_ptr<const dict::Topology> topology,
         std::shared_ptr<const HandlerTable> handlers, std::shared_ptr<AddressBook> addresses,
         node::IoPool& pool, asio::thread_pool& workers, std::size_t home_thread,
         std::shared_ptr<node::MemoryBudget> budget, std::shared_ptr<spdlog::logger> log);
    ~Node() override;
    Node(const Node&) = delete;
    Node& operator=(const Node&) = delete;

    /// Binds the listeners and records their ports in the address book; throws
    /// std::system_error when a port is taken.
    void listen();
    /// Starts accepting.
    void start();
    /// Stops accepting and drains every shard (NodeShard::begin_drain); `on_drained` runs once,
    /// on some io thread, when all of them are done.
    void begin_drain(std::function<void()> on_drained);
    /// Stops accepting and closes every connection (asynchronously, on each shard's thread).
    void stop();
    /// Runs with `topology` from now on (a live reload): each shard switches on its own thread,
    /// between two of its events.
    void apply(std::shared_ptr<const dict::Topology> topology);

    /// Asks every shard for its report; `done` runs once, on the io thread of the last shard to
    /// answer, with every shard's report in shard order.
    void collect_stats(std::function<void(std::vector<ShardStats>)> done);

    /// Kicks `uid` wherever in the cluster it is bound, as a handler's ctx.kick would; `done`
    /// runs on an io thread with false when this node's directory knows no session of it.
    void kick(std::string uid, std::string reason, std::function<void(bool)> done);

    /// This node's dinx.toml row.
    const dict::NodeInfo& info() const { return info_; }
    /// The cluster snapshot the node runs (the latest applied).
    std::shared_ptr<const dict::Topology> topology() const;
    /// The handlers of this process.
    const HandlerTable& handlers() const override { return *handlers_; }
    /// Where nodes listen.
    AddressBook& addresses() { return *addresses_; }
    /// The node's logger, named after it.
    spdlog::logger& log() { return *log_; }
    /// Number of shards: every io thread, or one.
    std::size_t shard_count() const { return shards_.size(); }
    /// The process's io threads.
    std::size_t io_threads() const { return pool_.size(); }
    /// The io_context of shard 0's thread (its metrics endpoint runs there).
    asio::io_context& home_io() { return pool_.context(threads_[0]); }
    /// The port clients connect to (frontends), once listening.
    std::uint16_t client_port() const { return client_acceptor_ ? client_acceptor_->port() : 0; }
    /// The port of client listener `index` of dinx.toml's `listeners` (from 0), once listening.
    std::uint16_t listener_port(std::size_t index) const {
        return index < listener_acceptors_.size() ? listener_acceptors_[index]->port() : 0;
    }
    /// The port links connect to, once listening.
    std::uint16_t link_port() const { return link_acceptor_ ? link_acceptor_->port() : 0; }

    /// The process's memory budget.
    const std::shared_ptr<node::MemoryBudget>& budget() const { return budget_; }
    /// Answers dropped because their request was answered already, summed over the shards.
    std::uint64_t late_answers() const;
    /// Where every bound uid of the cluster is, as this node knows it.
    Directory& directory() { return directory_; }
    /// Clients connected now, over all shards.
    std::uint32_t clients() const { return clients_.load(std::memory_order_relaxed); }

    bool admit_client() override;
    void release_client() override { clients_.fetch_sub(1, std::memory_order_relaxed); }
    std::atomic<std::uint32_t>& unproven_count(std::size_t index) override {
        return unproven_[index];
    }
    bool evict_elsewhere(std::size_t from, node::Socket&& socket,
                         std::function<void(node::Socket)> then) override;
    void post_to_shard(std::size_t index, std::function<void(NodeShard&)> work) override;
    asio::thread_pool& workers() override { return workers_; }
    const ClientEndpoint& client_endpoint(std::size_t index) const override {
        return endpoints_[index];
    }
    const LinkLayers& link_layers() const override { return link_layers_; }

private:
    /// Binds one listener into `slot`; the error names the node, `what` it is for and the port.
    /// Its connections go to this node's shards.
    void bind_listener(std::optional<node::Acceptor>& slot, std::string_view what,
                       std::uint16_t port, std::function<void(NodeShard&, node::Socket)> take);

    dict::NodeInfo info_;
    mutable std::mutex topology_mutex_;  // topology_ is read by admin and metrics threads
    std::shared_ptr<const dict::Topology> topology_;
    std::atomic<std::uint32_t> max_connections_;  // read by every accept
    std::shared_ptr<const HandlerTable> handlers_;
    std::shared_ptr<AddressBook> addresses_;
    node::IoPool& pool_;
    asio::thread_pool& workers_;
    std::vector<std::size_t> threads_;  // shard index -> io thread
    std::shared_ptr<node::MemoryBudget> budget_;
    std::shared_ptr<spdlog::logger> log_;
    std::unique_ptr<std::atomic<std::uint32_t>[]> unproven_;  // per shard
    Directory directory_;  // before the shards, which refer to it
    std::vector<std::unique_ptr<NodeShard>> shards_;
    std::vector<ClientEndpoint> endpoints_;  // frontends: `port`, then each of `listeners`
    LinkLayers link_layers_;
    std::optional<node::Acceptor> client_acceptor_;
    std::deque<std::optional<node::Acceptor>> listener_acceptors_;  // one per `listeners` row
    std::optional<node::Acceptor> link_acceptor_;
    std::atomic<std::uint32_t> clients_{0};  // across shards
};

}  // namespace dinx::cluster
