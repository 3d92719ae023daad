#include "cluster/gate/presence_publisher.hpp"

namespace dinx::cluster {
namespace {

// A snapshot of many players is cut into envelopes of about this size.
constexpr std::size_t batch_bytes = 256 * 1024;

}  // namespace

PresencePublisher::PresencePublisher(ShardContext& context, LinkTable& links)
    : context_(context), links_(links) {}

bool PresencePublisher::published(std::uint32_t node_id) const {
    auto it = published_.find(node_id);
    if (it == published_.end()) return false;
    auto link = it->second.lock();
    return link && link->is_open();
}

void PresencePublisher::send(Link& link, const std::vector<PresenceUpdate>& updates) {
    ByteBuffer batch;
    auto send_batch = [&] {
        link.send(Envelope{EnvelopeKind::presence, 0, {}, 0, context_.node_id(), batch});
        batch.clear();
    };
    for (const auto& update : updates) {
        append_presence(batch, update);
        if (batch.size() >= batch_bytes) send_batch();
    }
    if (!batch.empty()) send_batch();
}

void PresencePublisher::flush() {
    auto updates = context_.directory.take_outbox();
    if (updates.empty()) return;
    // Nodes without a snapshot yet get these changes inside the snapshot they will get.
    for (auto& [node_id, weak] : published_) {
        auto link = weak.lock();
        if (link && link->is_open()) send(*link, updates);
    }
}

void PresencePublisher::publish_snapshot(std::uint32_t node_id, const std::shared_ptr<Link>& link) {
    flush();  // what is already in the outbox goes to the others first, in order
    send(*link, context_.directory.snapshot());
    published_[node_id] = link;
}

void PresencePublisher::tick() {
    for (const auto& node : context_.topology->config().nodes) {
        if (node.id == context_.node_id() || published(node.id)) continue;
        if (auto link = links_.ready_link(node.id))
            publish_snapshot(node.id, link);
        else
            links_.connect(node.id);
    }
}

void PresencePublisher::on_link_ready(const std::shared_ptr<Link>& link) {
    if (!published(link->peer_id())) publish_snapshot(link->peer_id(), link);
}

}  // namespace dinx::cluster
