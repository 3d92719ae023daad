#pragma once
// A link: a TCP connection between two nodes that carries envelopes. It starts with a
// handshake (hello / hello_ack naming both node ids) and tracks the requests this node sent
// on it, so that a dropped link turns each of them into an error for its client.

#include "cluster/link/envelope.hpp"
#include "cluster/link/link_events.hpp"
#include "cluster/link/link_handshake.hpp"
#include "cluster/link/pending_window.hpp"
#include "node/framed_transport.hpp"
#include "node/socket.hpp"

#include <asio/steady_timer.hpp>

#include <chrono>
#include <memory>

namespace dinx::cluster {

/// A TCP transport for a link of the node `setup` describes, over a connected socket.
std::shared_ptr<node::FramedTransport> tcp_link_transport(const LinkSetup& setup,
                                                          node::Socket socket, LinkRole role);

/// One node-to-node connection, over a transport it owns. Used only on its shard's io thread.
class Link final : public node::FrameSink, public std::enable_shared_from_this<Link> {
public:
    /// Which side opened it.
    using Role = LinkRole;

    /// A link of the node `setup` describes, over `transport` (not started). `expected_peer` is
    /// the node a dialed link must reach (ignored when accepted); `accept_seq` numbers accepted
    /// links in their shard (0 for dialed ones). Until the handshake is done only
    /// handshake-sized frames are taken; then envelopes of any size up to the envelope limit.
    Link(const LinkSetup& setup, std::shared_ptr<node::FramedTransport> transport, Role role,
         std::uint32_t expected_peer, std::uint64_t accept_seq = 0);

    /// Starts reading and the handshake; the link closes if it is not done within `deadline`.
    void begin(std::chrono::milliseconds deadline);
    /// The connection it talks over.
    node::FramedTransport& transport() { return *transport_; }
    /// The connection it talks over.
    const node::FramedTransport& transport() const { return *transport_; }
    /// Closes the connection now (see FramedTransport::close).
    void close(std::string reason, std::string_view violation = {}) {
        transport_->close(std::move(reason), violation);
    }
    /// False once the connection closed.
    bool is_open() const { return transport_->is_open(); }
    /// The node at the other end (known once the handshake is done, or from the start if dialed).
    std::uint32_t peer_id() const { return handshake_.peer_id(); }
    /// True once the handshake is done.
    bool is_ready() const { return ready_; }
    /// Which side opened it.
    Role role() const { return role_; }
    /// Its number among the links its shard accepted (0 when dialed).
    std::uint64_t accept_seq() const { return accept_seq_; }

    /// Queues one envelope.
    void send(const Envelope& envelope);
    /// Numbers `request` with this link's next seq, remembers it as pending, queues it.
    void send_request(Envelope& request, PendingRequest pending);
    /// Forgets request `seq` and returns it (nullopt when unknown or already finished).
    std::optional<PendingRequest> finish(std::uint64_t seq);
    /// The link protocol version of the peer (once ready).
    std::uint16_t peer_version() const { return handshake_.peer_version(); }
    /// The link protocol version this link speaks: the older of both ends'.
    std::uint16_t version() const { return handshake_.version(); }
    /// Request `seq` while it is unfinished, else nullptr.
    PendingRequest* find_pending(std::uint64_t seq) { return pending_.find(seq); }
    /// True when `request` (unfinished on this closed link) surely never reached the peer:
    /// its last byte was never acknowledged by the peer's TCP (still queued here, or refused
    /// with a reset by a peer that had died).
    bool never_sent(const PendingRequest& request) const {
        return request.queued_until > transport_->bytes_acked_at_close();
    }
    /// Removes and returns every unfinished request, in the order they were sent.
    std::vector<std::pair<std::uint64_t, PendingRequest>> take_pending();
    /// Number of unfinished requests.
    std::size_t pending_count() const { return pending_.size(); }
    /// One heartbeat tick: sends a ping if nothing was sent since the last tick, and closes the
    /// link when nothing was heard for `silent_limit` ticks in a row.
    void heartbeat_tick(int silent_limit, std::chrono::milliseconds tick);
    /// True when the link was closed because its peer stopped answering.
    bool declared_dead() const { return declared_dead_; }
    /// Tells the peer this node is draining (once); it answers leaving_ack.
    void send_leaving();
    /// The peer answered our leaving: no request will follow on this link.
    void on_leaving_ack();
    /// True when nothing more is owed on this link for a drain: the peer acknowledged (or the
    /// link is closed), our requests on it are finished and everything queued is written.
    bool drained() const {
        return (leaving_acked_ || !is_open()) && pending_.size() == 0 &&
               transport_->queued_bytes() == 0;
    }
    /// A shared_ptr to this link.
    std::shared_ptr<Link> self() { return shared_from_this(); }

    bool on_frame(std::uint32_t kind, Bytes body) override;
    void on_closed() override;

private:
    void on_handshake(const Envelope& envelope);
    void send_handshake(const HandshakeFrame& frame);
    /// Without a cluster secret only peers on this machine may link (they share its trust).
    bool peer_may_link_without_secret();

    const LinkSetup& setup_;
    std::shared_ptr<node::FramedTransport> transport_;
    Role role_;
    std::uint64_t accept_seq_;
    LinkHandshake handshake_;
    bool ready_ = false;
    bool declared_dead_ = false;
    bool leaving_sent_ = false;
    bool leaving_acked_ = false;
    int silent_ticks_ = 0;
    asio::steady_timer handshake_timer_;
    PendingWindow pending_;
};

}  // namespace dinx::cluster
