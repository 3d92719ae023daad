#include "cluster/runtime/delivery.hpp"

#include "cluster/rpc/error_frame.hpp"
#include "node/frame_codec.hpp"

namespace dinx::cluster {
namespace {

// Broadcast payloads from this size on are queued by reference, not copied per client.
constexpr std::size_t share_from = 512;

}  // namespace

Delivery::Delivery(ShardContext& context, ClientTable& clients, LinkTable& links, PostToShard post)
    : context_(context), clients_(clients), links_(links), post_(std::move(post)) {}

std::size_t Delivery::shard_of(std::uint64_t conn_id) const {
    return static_cast<std::size_t>((conn_id - 1) % context_.shard_count);
}

void Delivery::deliver(std::uint32_t gate_id, std::uint64_t conn_id, std::uint32_t msg_id,
                       Bytes payload) {
    if (gate_id != context_.node_id()) {
        links_.send(gate_id, Envelope{EnvelopeKind::to_client, 0, Origin{gate_id, conn_id, {}},
                                      msg_id, 0, payload});
        return;
    }
    if (conn_id == 0) return;
    auto target = shard_of(conn_id);
    if (target == context_.index) {
        deliver_here(conn_id, msg_id, payload);
        return;
    }
    post_(target, [conn_id, msg_id, data = ByteBuffer(payload.begin(), payload.end())](
                      Delivery& there) { there.deliver_here(conn_id, msg_id, data); });
}

void Delivery::deliver_here(std::uint64_t conn_id, std::uint32_t msg_id, Bytes payload) {
    if (auto* session = clients_.find(conn_id))
        session->send(msg_id, payload);
    else
        context_.log.debug("client {} is gone; dropped msg_id {}", conn_id, msg_id);
}

void Delivery::update_session(std::uint32_t gate_id, std::uint64_t conn_id,
                              const std::string& uid) {
    if (gate_id != context_.node_id()) {
        links_.send(gate_id,
                    Envelope{EnvelopeKind::session, 0, Origin{gate_id, conn_id, uid}, 0, 0, {}});
        return;
    }
    if (conn_id == 0) return;
    auto target = shard_of(conn_id);
    if (target == context_.index) {
        if (auto* session = clients_.find(conn_id)) session->set_uid(uid);
        return;
    }
    post_(target, [gate_id, conn_id, uid](Delivery& there) {
        there.update_session(gate_id, conn_id, uid);
    });
}

void Delivery::broadcast(std::uint32_t msg_id, Bytes payload) {
    for (auto gate_id : context_.topology->frontends()) {
        if (gate_id == context_.node_id())
            broadcast_here(msg_id, payload);
        else
            links_.send(gate_id, Envelope{EnvelopeKind::broadcast, 0, {}, msg_id, 0, payload});
    }
}

void Delivery::broadcast_here(std::uint32_t msg_id, Bytes payload) {
    if (payload.size() < share_from) {
        auto data = std::make_shared<const ByteBuffer>(payload.begin(), payload.end());
        for (std::size_t i = 0; i < context_.shard_count; ++i) {
            post_(i, [msg_id, data](Delivery& there) {
                there.clients_.for_each(
                    [&](ClientSession& session) { session.send(msg_id, *data); });
            });
        }
        return;
    }
    // One frame for every receiver: 500 clients cost one copy of a big broadcast, not 500.
    ByteBuffer frame;
    frame.reserve(node::frame_header_size + payload.size());
    node::append_frame(frame, msg_id, payload);
    auto shared = context_.budget->share(std::move(frame));
    for (std::size_t i = 0; i < context_.shard_count; ++i) {
        post_(i, [shared](Delivery& there) {
            there.clients_.for_each(
                [&](ClientSession& session) { session.transport().send_shared(shared); });
        });
    }
}

void Delivery::send_error(std::uint32_t gate_id, std::uint64_t conn_id, std::uint32_t msg_id,
                          Error code, const std::string& why) {
    auto body = error_payload(msg_id, code, why);
    deliver(gate_id, conn_id, context_.settings().error_msg_id, as_bytes(body));
}

}  // namespace dinx::cluster
