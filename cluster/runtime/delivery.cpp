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

// A connection's state is touched on its own thread only: `work` runs here, or is posted there
// with its own copy of `bytes` (the caller's view dies with the call).
template <class Work>
void Delivery::on_shard_of(std::uint64_t conn_id, Bytes bytes, Work work) {
    auto target = shard_of(conn_id);
    if (target == context_.index) {
        work(*this, bytes);
        return;
    }
    post_(target, [work = std::move(work), data = ByteBuffer(bytes.begin(), bytes.end())](
                      Delivery& there) { work(there, data); });
}

void Delivery::deliver(std::uint32_t gate_id, std::uint64_t conn_id, std::uint32_t msg_id,
                       Bytes payload) {
    if (gate_id != context_.node_id()) {
        context_.metrics.count_out(msg_id, payload.size());
        links_.send(gate_id, Envelope{EnvelopeKind::to_client, 0, Origin{gate_id, conn_id, {}},
                                      msg_id, 0, payload});
        return;
    }
    if (conn_id == 0) return;
    on_shard_of(conn_id, payload, [conn_id, msg_id](Delivery& there, Bytes data) {
        there.deliver_here(conn_id, msg_id, data);
    });
}

void Delivery::deliver_here(std::uint64_t conn_id, std::uint32_t msg_id, Bytes payload) {
    if (auto* session = clients_.find(conn_id)) {
        session->send(msg_id, payload);
        return;
    }
    context_.metrics.count_frame_to_gone_client();
    context_.log.debug("client {} is gone; dropped msg_id {}", conn_id, msg_id);
}

void Delivery::apply_session(std::uint32_t gate_id, std::uint64_t conn_id, Bytes changes) {
    if (gate_id != context_.node_id()) {
        links_.send(gate_id, Envelope{EnvelopeKind::session, 0, Origin{gate_id, conn_id, {}}, 0, 0,
                                      changes});
        return;
    }
    if (conn_id == 0) return;
    on_shard_of(conn_id, changes, [conn_id](Delivery& there, Bytes data) {
        there.keeper_->apply_here(conn_id, data);
    });
}

void Delivery::multicast(const std::vector<GateTargets>& targets, std::uint32_t msg_id,
                         Bytes payload) {
    for (const auto& gate : targets) {
        if (gate.gate_id == context_.node_id()) {
            multicast_here(gate.conn_ids, msg_id, payload);
            continue;
        }
        // One envelope per gate: the frame once, with the members there.
        ByteBuffer body;
        append_multicast(body, gate.conn_ids, payload);
        links_.send(gate.gate_id, Envelope{EnvelopeKind::multicast, 0, {}, msg_id, 0, body});
    }
}

void Delivery::multicast_here(const std::vector<std::uint64_t>& conn_ids, std::uint32_t msg_id,
                              Bytes payload) {
    std::vector<std::vector<std::uint64_t>> by_shard(context_.shard_count);
    for (auto id : conn_ids)
        if (id != 0) by_shard[shard_of(id)].push_back(id);
    std::shared_ptr<const ByteBuffer> shared;
    if (payload.size() >= share_from) {
        ByteBuffer frame;
        frame.reserve(node::frame_header_size + payload.size());
        node::append_frame(frame, msg_id, payload);
        shared = context_.budget->share(std::move(frame));
    }
    for (std::size_t shard = 0; shard < by_shard.size(); ++shard) {
        if (by_shard[shard].empty()) continue;
        auto send_all = [msg_id, shared, ids = std::move(by_shard[shard])](Delivery& there,
                                                                           Bytes data) {
            for (auto id : ids) {
                auto* session = there.clients_.find(id);
                if (!session) continue;
                if (shared) {
                    // (a session's send() counts itself; a shared frame is counted here)
                    there.context_.metrics.count_out(msg_id,
                                                     shared->size() - node::frame_header_size);
                    session->transport().send_shared(shared);
                } else
                    session->send(msg_id, data);
            }
        };
        if (shard == context_.index) {
            send_all(*this, payload);
            continue;
        }
        post_(shard, [send_all = std::move(send_all),
                      data = shared ? ByteBuffer{} : ByteBuffer(payload.begin(), payload.end())](
                         Delivery& there) { send_all(there, data); });
    }
}

void Delivery::end_session(std::uint32_t gate_id, std::uint64_t conn_id, const std::string& uid,
                           DisconnectReason reason, std::string why) {
    if (gate_id != context_.node_id()) {
        links_.send(gate_id, Envelope{EnvelopeKind::kick, 0, Origin{gate_id, conn_id, uid},
                                      static_cast<std::uint32_t>(reason), 0, as_bytes(why)});
        return;
    }
    if (conn_id == 0) return;
    on_shard_of(conn_id, as_bytes(why), [conn_id, uid, reason](Delivery& there, Bytes text) {
        there.keeper_->end_here(conn_id, uid, reason, std::string(as_text(text)));
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
        post_(i, [shared, msg_id, size = payload.size()](Delivery& there) {
            there.clients_.for_each([&](ClientSession& session) {
                there.context_.metrics.count_out(msg_id, size);
                session.transport().send_shared(shared);
            });
        });
    }
}

void Delivery::send_error(std::uint32_t gate_id, std::uint64_t conn_id, std::uint32_t msg_id,
                          Error code, const std::string& why) {
    auto body = error_payload(msg_id, code, why);
    context_.metrics.count_error(code);
    deliver(gate_id, conn_id, context_.settings().error_msg_id, as_bytes(body));
}

}  // namespace dinx::cluster
