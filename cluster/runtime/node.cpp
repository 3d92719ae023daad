#include "cluster/runtime/node.hpp"

#include "cluster/runtime/node_shard.hpp"

namespace dinx::cluster {
namespace {

// The io threads a node's shards run on: every one for a gate (its clients spread over them) or
// a parallel backend, else the one home thread, which serialises the node's handlers.
std::vector<std::size_t> shard_threads(const dict::NodeInfo& info, std::size_t pool_size,
                                       std::size_t home_thread) {
    if (!info.is_frontend() && !info.parallel) return {home_thread % pool_size};
    std::vector<std::size_t> threads(pool_size);
    for (std::size_t i = 0; i < pool_size; ++i) threads[i] = i;
    return threads;
}

}  // namespace

Node::Node(const dict::NodeInfo& info, std::shared_ptr<const dict::Topology> topology,
           std::shared_ptr<const HandlerTable> handlers, std::shared_ptr<AddressBook> addresses,
           node::IoPool& pool, asio::thread_pool& workers, std::size_t home_thread,
           std::shared_ptr<node::MemoryBudget> budget, std::shared_ptr<spdlog::logger> log)
    : info_(info),
      topology_(std::move(topology)),
      max_connections_(topology_->settings().max_connections),
      handlers_(std::move(handlers)),
      addresses_(std::move(addresses)),
      pool_(pool),
      workers_(workers),
      threads_(shard_threads(info, pool.size(), home_thread)),
      budget_(std::move(budget)),
      log_(std::move(log)),
      unproven_(std::make_unique<std::atomic<std::uint32_t>[]>(threads_.size())),
      directory_(info.id, topology_->settings().login_policy) {
    endpoints_ = make_client_endpoints(info_, topology_->config(), *handlers_);
    link_layers_ = make_link_layers(topology_->config());
    for (std::size_t i = 0; i < threads_.size(); ++i)
        shards_.push_back(std::make_unique<NodeShard>(*this, info_, topology_, i, threads_.size(),
                                                      threads_[i], pool_.context(threads_[i]),
                                                      *log_, *addresses_, budget_, directory_));
    // A gate's sessions change on any shard; shard 0 sends the changes out, in order.
    if (info_.is_frontend())
        directory_.on_outbox(
            [this] { post_to_shard(0, [](NodeShard& shard) { shard.flush_presence(); }); });
}

Node::~Node() = default;

void Node::listen() {
    // A port 0 in the config was resolved by an earlier start; keep it so peers still find us.
    if (info_.is_frontend()) {
        auto port = info_.port != 0 ? info_.port : addresses_->client_port(info_.id);
        bind_listener(client_acceptor_, "clients", port, [](NodeShard& shard, node::Socket socket) {
            shard.accept_client(std::move(socket), 0);
        });
        addresses_->set_client_port(info_.id, client_acceptor_->port());
        for (std::size_t i = 1; i < endpoints_.size(); ++i) {
            auto& slot = listener_acceptors_.emplace_back();
            bind_listener(slot, endpoints_[i].kind + " clients", endpoints_[i].port,
                          [i](NodeShard& shard, node::Socket socket) {
                              shard.accept_client(std::move(socket), i);
                          });
        }
    }
    auto configured = addresses_->link_address(info_.id);
    bind_listener(
        link_acceptor_, "links", configured ? configured->port : 0,
        [](NodeShard& shard, node::Socket socket) { shard.accept_link(std::move(socket)); });
    addresses_->set_link_port(info_.id, link_acceptor_->port());
}

void Node::bind_listener(std::optional<node::Acceptor>& slot, std::string_view what,
                         std::uint16_t port, std::function<void(NodeShard&, node::Socket)> take) {
    // With one shard every connection is accepted onto its thread; else thread i is shard i.
    std::optional<std::size_t> only;
    if (threads_.size() == 1) only = threads_[0];
    auto on_accept = [this, take = std::move(take)](std::size_t thread, node::Socket socket) {
        take(*shards_[threads_.size() == 1 ? 0 : thread], std::move(socket));
    };
    try {
        slot.emplace(pool_, 0, info_.host, port, std::move(on_accept), only);
    } catch (const std::system_error& error) {
        throw std::system_error(error.code(), info_.name + " cannot listen for " +
                                                  std::string(what) + " on " + info_.host + ":" +
                                                  std::to_string(port));
    }
}

std::shared_ptr<const dict::Topology> Node::topology() const {
    std::lock_guard lock(topology_mutex_);
    return topology_;
}

void Node::apply(std::shared_ptr<const dict::Topology> topology) {
    max_connections_.store(topology->settings().max_connections, std::memory_order_relaxed);
    {
        std::lock_guard lock(topology_mutex_);
        topology_ = topology;
    }
    for (std::size_t i = 0; i < shards_.size(); ++i)
        post_to_shard(i, [topology](NodeShard& shard) { shard.apply_topology(topology); });
}

void Node::collect_stats(std::function<void(std::vector<ShardStats>)> done) {
    struct Gathering {
        std::mutex mutex;
        std::vector<ShardStats> shards;
        std::size_t remaining;
        std::function<void(std::vector<ShardStats>)> done;
    };
    auto gathering = std::make_shared<Gathering>();
    gathering->shards.resize(shards_.size());
    gathering->remaining = shards_.size();
    gathering->done = std::move(done);
    for (std::size_t i = 0; i < shards_.size(); ++i) {
        post_to_shard(i, [gathering, i](NodeShard& shard) {
            auto stats = shard.stats();
            std::unique_lock lock(gathering->mutex);
            gathering->shards[i] = std::move(stats);
            if (--gathering->remaining > 0) return;
            lock.unlock();
            gathering->done(std::move(gathering->shards));
        });
    }
}

void Node::kick(std::string uid, std::string reason, std::function<void(bool)> done) {
    post_to_shard(0, [uid = std::move(uid), reason = std::move(reason),
                      done = std::move(done)](NodeShard& shard) { done(shard.kick(uid, reason)); });
}

bool Node::admit_client() {
    auto limit = max_connections_.load(std::memory_order_relaxed);
    auto count = clients_.load(std::memory_order_relaxed);
    do {
        if (count >= limit) return false;
    } while (!clients_.compare_exchange_weak(count, count + 1, std::memory_order_relaxed));
    return true;
}

std::uint64_t Node::late_answers() const {
    std::uint64_t total = 0;
    for (const auto& shard : shards_) total += shard->late_answers();
    return total;
}

bool Node::evict_elsewhere(std::size_t from, node::Socket&& socket,
                           std::function<void(node::Socket)> then) {
    for (std::size_t i = 0; i < shards_.size(); ++i) {
        if (i == from || unproven_[i].load(std::memory_order_relaxed) == 0) continue;
        // Held by a shared_ptr so that the posted work stays copyable; the socket belongs to
        // shard `from`'s thread and is used there only.
        auto held = std::make_shared<node::Socket>(std::move(socket));
        post_to_shard(i, [this, from, held, then = std::move(then)](NodeShard& shard) {
            shard.evict_unproven_client();
            post_to_shard(from, [held, then](NodeShard&) { then(std::move(*held)); });
        });
        return true;
    }
    return false;
}

void Node::post_to_shard(std::size_t index, std::function<void(NodeShard&)> work) {
    asio::post(pool_.context(threads_[index]),
               [this, index, work = std::move(work)] { work(*shards_[index]); });
}

void Node::start() {
    for (std::size_t i = 0; i < shards_.size(); ++i)
        post_to_shard(i, [](NodeShard& shard) { shard.start_timers(); });
    if (client_acceptor_) client_acceptor_->start();
    for (auto& acceptor : listener_acceptors_) acceptor->start();
    link_acceptor_->start();
    if (info_.is_frontend())
        log_->info("{} (frontend, group {}) listening: clients on {}:{}, links on {}:{}",
                   info_.name, info_.group, info_.host, client_port(), info_.host, link_port());
    else
        log_->info("{} (backend, group {}) listening: links on {}:{}", info_.name, info_.group,
                   info_.host, link_port());
    for (std::size_t i = 0; i < listener_acceptors_.size(); ++i)
        log_->info("{} also takes {} clients on {}:{}", info_.name, endpoints_[i + 1].kind,
                   info_.host, listener_port(i));
}

void Node::begin_drain(std::function<void()> on_drained) {
    if (link_acceptor_) link_acceptor_->close();
    auto drain_shards = [this, on_drained = std::move(on_drained)] {
        auto remaining = std::make_shared<std::atomic<std::size_t>>(shards_.size());
        for (std::size_t i = 0; i < shards_.size(); ++i) {
            post_to_shard(i, [remaining, on_drained](NodeShard& shard) {
                shard.begin_drain([remaining, on_drained] {
                    if (remaining->fetch_sub(1) == 1) on_drained();
                });
            });
        }
    };
    // Clients that connected before the drain are taken first: their requests get answers or
    // errors like everyone else's, and each shard sees their accept before its drain begins.
    if (!client_acceptor_) {
        drain_shards();
        return;
    }
    auto listening = std::make_shared<std::atomic<std::size_t>>(1 + listener_acceptors_.size());
    auto after_backlog = [listening, drain_shards = std::move(drain_shards)] {
        if (listening->fetch_sub(1) == 1) drain_shards();
    };
    client_acceptor_->close_after_backlog(after_backlog);
    for (auto& acceptor : listener_acceptors_) acceptor->close_after_backlog(after_backlog);
}

void Node::stop() {
    if (client_acceptor_) client_acceptor_->close();
    for (auto& acceptor : listener_acceptors_) acceptor->close();
    if (link_acceptor_) link_acceptor_->close();
    for (std::size_t i = 0; i < shards_.size(); ++i)
        post_to_shard(i, [](NodeShard& shard) { shard.close_all(); });
}

}  // namespace dinx::cluster
