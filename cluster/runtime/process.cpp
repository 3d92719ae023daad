#include "cluster/runtime/process.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <stdexcept>

namespace dinx::cluster {
namespace {

std::shared_ptr<spdlog::logger> make_node_logger(const std::string& name) {
    // One sink for the whole process keeps lines of different nodes from interleaving.
    static auto sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
    auto logger = std::make_shared<spdlog::logger>(name, sink);
    // Not registered with spdlog: tests run several processes' nodes of the same name at once.
    logger->set_level(spdlog::get_level());
    return logger;
}

}  // namespace

Process::Process(std::shared_ptr<const dict::Topology> topology,
                 std::shared_ptr<const HandlerTable> handlers, std::vector<std::uint32_t> node_ids,
                 std::shared_ptr<AddressBook> addresses, std::size_t io_threads)
    : topology_(topology),
      handlers_(std::move(handlers)),
      addresses_(addresses ? std::move(addresses)
                           : std::make_shared<AddressBook>(topology->config())) {
    if (io_threads == 0) io_threads = topology->settings().io_threads;
    pool_ = std::make_unique<node::IoPool>(io_threads);
    // Buffers get half of the budget: the rest is for sessions, code and allocator slack.
    budget_ =
        node::MemoryBudget::create(pool_->size(), topology->settings().memory_budget_bytes / 2);
    workers_ = std::make_unique<asio::thread_pool>(topology->settings().worker_threads);
    for (auto id : node_ids) {
        const auto* info = topology->node(id);
        if (!info)
            throw std::out_of_range("no node with id " + std::to_string(id) + " in the config");
        nodes_.push_back(make_node(*info));
    }
}

std::unique_ptr<Node> Process::make_node(const dict::NodeInfo& info) {
    // Single-threaded backends take turns over the io threads, so two of them in one process
    // do not share a thread while another idles.
    return std::make_unique<Node>(info, topology_, handlers_, addresses_, *pool_, *workers_,
                                  next_home_++, budget_, make_node_logger(info.name));
}

Process::~Process() {
    stop();
}

void Process::start() {
    for (auto& node : nodes_) node->listen();
    for (auto& node : nodes_) node->start();
    pool_->start();
    running_ = true;
}

void Process::apply(std::shared_ptr<const dict::Topology> topology) {
    addresses_->update(topology->config());
    {
        std::lock_guard lock(mutex_);
        topology_ = topology;
    }
    for (auto& node : nodes_) node->apply(topology);
}

void Process::retire(std::uint32_t id, std::function<void()> on_gone) {
    {
        std::lock_guard lock(mutex_);
        if (std::ranges::find(retired_, id) != retired_.end()) {
            on_gone();
            return;
        }
        retired_.push_back(id);
    }
    Node& retiring = node(id);
    retiring.begin_drain([&retiring, on_gone = std::move(on_gone)] {
        retiring.stop();
        on_gone();
    });
}

void Process::add_node(std::uint32_t id) {
    auto topology = this->topology();
    const auto* info = topology->node(id);
    if (!info) throw std::out_of_range("no node with id " + std::to_string(id) + " in the config");
    auto made = make_node(*info);
    made->listen();
    made->start();
    std::lock_guard lock(mutex_);
    nodes_.push_back(std::move(made));
}

std::shared_ptr<const dict::Topology> Process::topology() const {
    std::lock_guard lock(mutex_);
    return topology_;
}

std::vector<std::uint32_t> Process::running_ids() const {
    std::lock_guard lock(mutex_);
    std::vector<std::uint32_t> ids;
    for (const auto& node : nodes_)
        if (std::ranges::find(retired_, node->info().id) == retired_.end())
            ids.push_back(node->info().id);
    return ids;
}

bool Process::drain(std::chrono::milliseconds timeout) {
    if (!running_) return true;
    // Shared with the nodes' callbacks, which may still run after a timeout returned.
    struct Waiter {
        std::mutex mutex;
        std::condition_variable done;
        std::size_t remaining;
    };
    auto waiter = std::make_shared<Waiter>();
    auto ids = running_ids();  // a retired node drained already
    waiter->remaining = ids.size();
    for (auto id : ids) {
        node(id).begin_drain([waiter] {
            std::lock_guard lock(waiter->mutex);
            --waiter->remaining;
            waiter->done.notify_all();
        });
    }
    std::unique_lock lock(waiter->mutex);
    return waiter->done.wait_for(lock, timeout, [&] { return waiter->remaining == 0; });
}

void Process::stop(std::chrono::milliseconds grace) {
    if (!running_) return;
    running_ = false;
    for (auto& node : nodes_) node->stop();
    pool_->release_work();
    if (!pool_->wait_idle(grace))
        spdlog::warn("io threads still busy after {} ms; stopping them", grace.count());
    pool_->stop();
    pool_->join();
    // Blocking work not started is dropped; work running now finishes, its result unused.
    workers_->stop();
    workers_->join();
    // Sockets must die before their io_context, so the nodes (which own the registries) go
    // first. Connections still held by abandoned handlers in the pool's queues die with the
    // pool; their destructors do not touch their (gone) shards.
    nodes_.clear();
    pool_.reset();
    workers_.reset();
}

bool Process::has_node(std::uint32_t id) const {
    std::lock_guard lock(mutex_);
    return std::ranges::any_of(nodes_, [id](const auto& node) { return node->info().id == id; });
}

Node& Process::node(std::uint32_t id) {
    std::lock_guard lock(mutex_);  // add_node may grow the list on the control thread
    for (auto& node : nodes_)
        if (node->info().id == id) return *node;
    throw std::out_of_range("this process runs no node with id " + std::to_string(id));
}

}  // namespace dinx::cluster
