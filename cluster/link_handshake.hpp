#pragma once
// The start of every link, as a state machine with no I/O (so it can be tested alone): each
// side names its node id, both prove they know the cluster secret (link_auth.hpp), and the
// accepting side checks that the dialer is a node of its dinx.toml. Anything else is refused.

#include "cluster/envelope.hpp"
#include "cluster/link_auth.hpp"

#include <functional>
#include <optional>
#include <string>

namespace dinx::cluster {

/// Which side opened a link.
enum class LinkRole { dialed, accepted };

/// One frame the handshake wants sent: its kind and payload (`via` is always our id).
struct HandshakeFrame {
    EnvelopeKind kind;
    ByteBuffer payload;
};

/// What an incoming frame did to the handshake.
struct HandshakeStep {
    std::optional<HandshakeFrame> send;  ///< to send back, if anything
    bool done = false;                   ///< the link is up (after sending `send`)
    std::string refusal;                 ///< non-empty: close the link, this is why
};

/// The handshake of one link.
class LinkHandshake {
public:
    /// `expected_peer` is the node a dialed link must reach; `is_cluster_node` tells an
    /// acceptor whether a dialer's id is in its dinx.toml.
    LinkHandshake(LinkRole role, std::uint32_t self_id, std::uint32_t expected_peer,
                  std::string secret, std::function<bool(std::uint32_t)> is_cluster_node);

    /// The dialer's first frame (hello); nullopt for an acceptor, which waits.
    std::optional<HandshakeFrame> start();
    /// Feeds one received envelope.
    HandshakeStep on_envelope(const Envelope& envelope);
    /// The node at the other end: known from the start when dialed, after hello when accepted.
    std::uint32_t peer_id() const { return peer_id_; }

private:
    enum class Stage { await_hello, await_challenge, await_proof, await_ack, done };

    HandshakeStep on_hello(const Envelope& envelope);
    HandshakeStep on_challenge(const Envelope& envelope);
    HandshakeStep on_proof(const Envelope& envelope);
    static HandshakeStep refuse(std::string why) { return {std::nullopt, false, std::move(why)}; }

    LinkRole role_;
    Stage stage_;
    std::uint32_t self_id_;
    std::uint32_t peer_id_;
    std::string secret_;
    std::function<bool(std::uint32_t)> is_cluster_node_;
    AuthBytes dialer_nonce_{};
    AuthBytes acceptor_nonce_{};
};

}  // namespace dinx::cluster
