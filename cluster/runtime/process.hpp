#pragma once
// The nodes one process runs, on one shared pool of io threads.

#include "cluster/api/handler.hpp"
#include "cluster/runtime/address_book.hpp"
#include "cluster/runtime/node.hpp"
#include "dict/topology.hpp"
#include "node/io_pool.hpp"

#include <asio/thread_pool.hpp>

#include <chrono>
#include <memory>
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

    /// A node of this process; throws std::out_of_range for other ids.
    Node& node(std::uint32_t id);
    /// The address book the nodes dial with.
    AddressBook& addresses() { return *addresses_; }
    /// The buffers of every node of the process, against memory_budget_bytes.
    node::MemoryBudget& budget() { return *budget_; }

private:
    std::shared_ptr<AddressBook> addresses_;
    std::shared_ptr<node::MemoryBudget> budget_;
    // The pool outlives the nodes: connections still queued in it refer to their shards.
    std::unique_ptr<node::IoPool> pool_;
    std::unique_ptr<asio::thread_pool> workers_;  // blocking work of handlers
    std::vector<std::unique_ptr<Node>> nodes_;
    bool running_ = false;
};

}  // namespace dinx::cluster
