#include "cluster/link.hpp"

#include "cluster/node_shard.hpp"

#include <spdlog/spdlog.h>

namespace dinx::cluster {

Link::Link(NodeShard& shard, node::Socket socket, node::ConnectionLimits limits, Role role,
           std::uint32_t expected_peer)
    : node::Connection(std::move(socket), limits),
      shard_(shard),
      role_(role),
      peer_id_(role == Role::dialed ? expected_peer : 0),
      handshake_timer_(executor()) {}

void Link::begin(std::chrono::milliseconds deadline) {
    start();
    if (role_ == Role::dialed) send_control(EnvelopeKind::hello);
    handshake_timer_.expires_after(deadline);
    handshake_timer_.async_wait([weak = std::weak_ptr<Link>(self())](std::error_code error) {
        auto link = weak.lock();
        if (!error && link && !link->ready_) link->close("handshake timed out");
    });
}

void Link::send(const Envelope& envelope) {
    send_with(static_cast<std::uint32_t>(envelope.kind),
              [&](ByteBuffer& out) { codec_.write(out, envelope); });
}

void Link::send_request(Envelope& request, PendingRequest pending) {
    request.seq = pending_.add(std::move(pending));
    try {
        send(request);
    } catch (...) {
        pending_.finish(request.seq);  // never sent: it must not fail a second time later
        throw;
    }
}

std::optional<PendingRequest> Link::finish(std::uint64_t seq) {
    return pending_.finish(seq);
}

std::vector<std::pair<std::uint64_t, PendingRequest>> Link::take_pending() {
    return pending_.take_all();
}

bool Link::on_frame(std::uint32_t kind, Bytes body) {
    auto envelope = codec_.read(kind, body);
    if (!envelope) {
        close("malformed envelope (kind " + std::to_string(kind) + ")");
        return false;
    }
    if (!ready_) {
        on_handshake(*envelope);
    } else if (envelope->kind == EnvelopeKind::hello || envelope->kind == EnvelopeKind::hello_ack) {
        close("handshake frame on an open link");
    } else {
        shard_.on_link_envelope(*this, *envelope);
    }
    return is_open();
}

void Link::on_handshake(const Envelope& envelope) {
    auto expected = role_ == Role::accepted ? EnvelopeKind::hello : EnvelopeKind::hello_ack;
    if (envelope.kind != expected) {
        close("first frame is not a " +
              std::string(role_ == Role::accepted ? "hello" : "hello_ack"));
        return;
    }
    if (role_ == Role::accepted && !shard_.is_cluster_node(envelope.via)) {
        close("hello from node id " + std::to_string(envelope.via) +
              ", which is not in the config");
        return;
    }
    if (role_ == Role::dialed && envelope.via != peer_id_) {
        close("dialed node " + std::to_string(peer_id_) + " but node " +
              std::to_string(envelope.via) + " answered");
        return;
    }
    peer_id_ = envelope.via;
    ready_ = true;
    handshake_timer_.cancel();
    if (role_ == Role::accepted) send_control(EnvelopeKind::hello_ack);
    shard_.on_link_ready(self());
}

void Link::send_control(EnvelopeKind kind) {
    Envelope envelope;
    envelope.kind = kind;
    envelope.via = shard_.node_id();
    send(envelope);
}

void Link::on_closed() {
    handshake_timer_.cancel();
    shard_.on_link_closed(*this);
}

}  // namespace dinx::cluster
