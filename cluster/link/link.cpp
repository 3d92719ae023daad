#include "cluster/link/link.hpp"

#include "cluster/runtime/drain.hpp"
#include "node/tcp_transport.hpp"

#include <spdlog/spdlog.h>

namespace dinx::cluster {
namespace {

// The largest handshake frame (a challenge) is under 200 bytes.
constexpr std::uint32_t handshake_frame_limit = 512;

}  // namespace

// Until its handshake is done a peer may send only handshake-sized frames (a peer that proved
// nothing must not make us buffer 16 MiB); its queue may hold a burst for a whole gate, and a
// peer that lets 64 MiB pile up is not reading (dropping it fails its requests fast instead of
// growing without bound).
std::shared_ptr<node::FramedTransport> tcp_link_transport(const LinkSetup& setup,
                                                          node::Socket socket, LinkRole role) {
    node::TransportLimits limits;
    limits.max_frame_len = handshake_frame_limit;
    limits.max_send_queue_bytes = 64u << 20;
    // A busy link fills and empties a large buffer every flush: keeping it spares an mmap,
    // page faults and a munmap each time (blocks this large are mmapped, see MemoryBudget).
    limits.kept_write_buffer_bytes = 4u << 20;
    const auto& layers = role == LinkRole::accepted ? setup.accepted_layers : setup.dialed_layers;
    return std::make_shared<node::TcpTransport>(std::move(socket), limits, setup.budget,
                                                setup.account, layers ? layers->make() : nullptr);
}

Link::Link(const LinkSetup& setup, std::shared_ptr<node::FramedTransport> transport, Role role,
           std::uint32_t expected_peer, std::uint64_t accept_seq)
    : setup_(setup),
      transport_(std::move(transport)),
      role_(role),
      accept_seq_(accept_seq),
      handshake_(role, setup.self_id, expected_peer, setup.secret, setup.is_cluster_node,
                 setup.offer),
      handshake_timer_(transport_->executor()) {}

void Link::begin(std::chrono::milliseconds deadline) {
    // Starting reads at once, and a peer that reset the connection closes the link inside
    // start(): its owner may then drop it (a dialed link in its handshake), so hold it here.
    auto keep = self();
    transport_->start(keep);
    if (!transport_->is_open()) return;
    if (role_ == Role::accepted && !peer_may_link_without_secret()) {
        close("no cluster secret is configured, so links are accepted from loopback only",
              "came from another machine while no cluster secret is set");
        return;
    }
    if (auto hello = handshake_.start()) send_handshake(*hello);
    handshake_timer_.expires_after(deadline);
    handshake_timer_.async_wait([weak = std::weak_ptr<Link>(self())](std::error_code error) {
        auto link = weak.lock();
        if (!error && link && !link->ready_)
            link->close("handshake timed out", "did not finish the handshake in time");
    });
}

bool Link::peer_may_link_without_secret() {
    if (!setup_.secret.empty()) return true;
    auto address = transport_->remote_address();
    if (address.is_v6() && address.to_v6().is_v4_mapped())
        address = asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6());
    return address.is_loopback();
}

void Link::send(const Envelope& envelope) {
    transport_->send_with(static_cast<std::uint32_t>(envelope.kind),
                          [&](ByteBuffer& out) { write_envelope(out, envelope); });
}

void Link::send_request(Envelope& request, PendingRequest pending) {
    request.seq = pending_.add(std::move(pending));
    try {
        send(request);
    } catch (...) {
        pending_.finish(request.seq);  // never sent: it must not fail a second time later
        throw;
    }
    setup_.drain->enter();  // until it finishes
    // Whether it left this process is known by comparing with bytes_written() later.
    if (auto* sent = pending_.find(request.seq))
        sent->queued_until = transport_->bytes_queued_total();
}

std::optional<PendingRequest> Link::finish(std::uint64_t seq) {
    auto request = pending_.finish(seq);
    if (request) setup_.drain->leave();
    return request;
}

std::vector<std::pair<std::uint64_t, PendingRequest>> Link::take_pending() {
    auto all = pending_.take_all();
    for (std::size_t i = 0; i < all.size(); ++i) setup_.drain->leave();
    return all;
}

void Link::on_leaving_ack() {
    if (std::exchange(leaving_acked_, true) || !leaving_sent_) return;
    setup_.drain->leave();
}

bool Link::on_frame(std::uint32_t kind, Bytes body) {
    auto envelope = read_envelope(kind, body);
    if (!envelope) {
        close("malformed envelope (kind " + std::to_string(kind) + ")", "sent a malformed frame");
        return false;
    }
    if (!ready_) {
        on_handshake(*envelope);
    } else if (envelope->kind <= EnvelopeKind::hello_ack) {
        close("handshake frame on an open link");
    } else {
        setup_.events->on_link_envelope(*this, *envelope);
    }
    return is_open();
}

void Link::on_handshake(const Envelope& envelope) {
    auto step = handshake_.on_envelope(envelope);
    if (!step.refusal.empty()) {
        close(step.refusal, "failed the handshake");
        return;
    }
    if (step.send) send_handshake(*step.send);
    if (!step.done) return;
    ready_ = true;
    // Authenticated: from now on a frame may carry any envelope.
    transport_->set_max_frame_len(
        static_cast<std::uint32_t>(max_envelope_payload + max_envelope_header));
    handshake_timer_.cancel();
    setup_.events->on_link_ready(self());
}

void Link::heartbeat_tick(int silent_limit, std::chrono::milliseconds tick) {
    if (!ready_ || !is_open()) return;
    if (transport_->take_heard()) {
        silent_ticks_ = 0;
    } else if (++silent_ticks_ >= silent_limit) {
        declared_dead_ = true;
        close("no heartbeat for " + std::to_string(silent_ticks_ * tick.count()) + " ms");
        return;
    }
    if (transport_->take_sent()) return;
    transport_->release_idle_buffers();  // a quiet link gives its write buffer back
    send(Envelope{EnvelopeKind::ping, 0, {}, 0, setup_.self_id, {}});
}

void Link::send_leaving() {
    if (leaving_sent_ || !ready_) return;
    leaving_sent_ = true;
    setup_.drain->enter();  // until the peer acknowledges, or the link closes
    send(Envelope{EnvelopeKind::leaving, 0, {}, 0, setup_.self_id, {}});
}

void Link::send_handshake(const HandshakeFrame& frame) {
    send(Envelope{frame.kind, 0, {}, 0, setup_.self_id, frame.payload});
}

void Link::on_closed() {
    handshake_timer_.cancel();
    if (leaving_sent_ && !leaving_acked_) on_leaving_ack();  // nothing will follow now
    setup_.events->on_link_closed(*this);
}

}  // namespace dinx::cluster
