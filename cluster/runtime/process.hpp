#pragma once
// The nodes one process runs, on one shared pool of io threads.

#include "cluster/api/handler.hpp"
#include "cluster/runtime/address_book.hpp"
#include "cluster/runtime/node.hpp"
#include "dict/topology.hpp"
#include "node/io_pool.hpp"

#include <asio/thread_pool.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

namespace dinx::cluster {

/// Starts and stops a set of nodes of one cluster config.
class Process {
public:
    /// The nodes `node_ids` of `topology` with `handlers`. `addresses` is shared when several
    /// Process objects of one test must find each other's port-0 listeners; `io_threads` 0
    /// takes the config's io_threads (itself 0 = one per core).
    Process(std::shared_ptr<const dict::Topology> topology,
            std::shared_ptr<const HandlerTable> handlers, std::vector<std::uint32_t> node_ids,
            std::shared_ptr<AddressBook> addresses = nullptr, std::size_t io_threads = 0);
    /// Stops if still running.
    ~Process();
    Process(const Process&) = delete;
    Process& operator=(const Process&) = delete;

    /// Binds every listener (throws std::system_error if a port is taken), then starts the io
    /// threads.
    void start();
    /// Graceful stop, first half: stops accepting, tells every peer this process is leaving and
    /// waits up to `timeout` for every request in flight to be answered and every queue written.
    /// True when all of that happened in time. Call stop() afterwards.
    bool drain(std::chrono::milliseconds timeout);
    /// Closes every listener and connection, lets the io threads finish for up to `grace`,
    /// then stops them. Idempotent.
    void stop(std::chrono::milliseconds grace = std::chrono::milliseconds(2000));

    /// Runs every node with `topology` from now on (a live reload). The caller retires the
    /// nodes it no longer holds, and starts those it adds, itself.
    void apply(std::shared_ptr<const dict::Topology> topology);
    /// Drains node `id` (as a stop would, for that node alone), then stops it; `on_gone` runs
    /// once, on an io thread, when it stopped (or at once if it is not running). Its object
    /// stays until the process stops.
    void retire(std::uint32_t id, std::function<void()> on_gone);
    /// Makes, binds and starts node `id` of the running topology (a reload added it and this
    /// process runs every node). Throws std::system_error when its port is taken and
    /// dict::ConfigError when its listeners cannot be set up.
    void add_node(std::uint32_t id);
    /// The cluster snapshot the nodes run.
    std::shared_ptr<const dict::Topology> topology() const;
    /// Ids of the nodes running (not retired), in start order.
    std::vector<std::uint32_t> running_ids() const;

    /// True when this process made node `id` (running or retired).
    bool has_node(std::uint32_t id) const;
    /// A node of this process; throws std::out_of_range for other ids.
    Node& node(std::uint32_t id);
    /// The io threads the nodes run on (for endpoints that live beside them).
    node::IoPool& pool() { return *pool_; }
    /// The address book the nodes dial with.
    AddressBook& addresses() { return *addresses_; }
    /// The buffers of every node of the process, against memory_budget_bytes.
    node::MemoryBudget& budget() { return *budget_; }

private:
    /// Makes node `info` (not listening yet).
    std::unique_ptr<Node> make_node(const dict::NodeInfo& info);

    mutable std::mutex mutex_;  // topology_ and retired_ change on the control thread only,
                                // but admin and metrics threads read them
    std::shared_ptr<const dict::Topology> topology_;
    std::shared_ptr<const HandlerTable> handlers_;
    std::vector<std::uint32_t> retired_;
    std::size_t next_home_ = 0;  // the io thread the next single-threaded backend runs on
    std::shared_ptr<AddressBook> addresses_;
    std::shared_ptr<node::MemoryBudget> budget_;
    // The pool outlives the nodes: connections still queued in it refer to their shards.
    std::unique_ptr<node::IoPool> pool_;
    std::unique_ptr<asio::thread_pool> workers_;  // blocking work of handlers
    std::vector<std::unique_ptr<Node>> nodes_;
    bool running_ = false;
};

}  // namespace dinx::cluster
