#pragma once
// The start of every link, as a state machine with no I/O (so it can be tested alone): each
// side names its node id and what it speaks (link protocol version and feature bits), both prove
// they know the cluster secret (link_auth.hpp), and the accepting side checks that the dialer is
// a node of its dinx.toml. Anything else is refused.

#include "cluster/link/envelope.hpp"
#include "cluster/link/link_auth.hpp"

#include <algorithm>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace dinx::cluster {

/// The link protocol version this release sends. Version 1 is every release before it, whose
/// hello and challenge carried no version (told apart by their size).
inline constexpr std::uint16_t link_protocol_version = 4;
/// The oldest link protocol version this node speaks; a peer announcing an older one is refused.
inline constexpr std::uint16_t min_link_protocol_version = 3;
/// The newest link protocol version this node speaks; a peer announcing a newer one is refused.
inline constexpr std::uint16_t max_link_protocol_version = link_protocol_version;

/// Optional link features, one bit each. Each end sends the bits it supports; the link uses
/// only the bits both sent, so a feature is used only between nodes that both know it.
using LinkFeatures = std::uint32_t;
/// No optional feature. No feature bit is defined yet; new ones get the next free bit.
inline constexpr LinkFeatures no_link_features = 0;
/// The feature bits this release supports.
inline constexpr LinkFeatures supported_link_features = no_link_features;

/// What a node of this release offers in its handshake.
inline constexpr LinkOffer current_link_offer{link_protocol_version, supported_link_features};

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
    /// acceptor whether a dialer's id is in its dinx.toml. `offer` is what this end announces:
    /// this release's unless a test plays a node of another release.
    LinkHandshake(LinkRole role, std::uint32_t self_id, std::uint32_t expected_peer,
                  std::string secret, std::function<bool(std::uint32_t)> is_cluster_node,
                  LinkOffer offer = current_link_offer);

    /// The dialer's first frame (hello); nullopt for an acceptor, which waits.
    std::optional<HandshakeFrame> start();
    /// Feeds one received envelope.
    HandshakeStep on_envelope(const Envelope& envelope);
    /// The node at the other end: known from the start when dialed, after hello when accepted.
    std::uint32_t peer_id() const { return peer_id_; }
    /// The link protocol version the peer announced; valid once the handshake is done.
    std::uint16_t peer_version() const { return peer_offer_.version; }
    /// The version the link speaks: the older of the two ends' (valid once done).
    std::uint16_t version() const { return std::min(offer_.version, peer_offer_.version); }
    /// The version this end announced.
    std::uint16_t own_version() const { return offer_.version; }
    /// The feature bits both ends support (the link may use these only); valid once done.
    LinkFeatures features() const { return offer_.features & peer_offer_.features; }

private:
    enum class Stage { await_hello, await_challenge, await_proof, await_ack, done };

    HandshakeStep on_hello(const Envelope& envelope);
    HandshakeStep on_challenge(const Envelope& envelope);
    HandshakeStep on_proof(const Envelope& envelope);
    AuthBytes proof_of(LinkSide side) const;
    static HandshakeStep refuse(std::string why) { return {std::nullopt, false, std::move(why)}; }

    LinkRole role_;
    Stage stage_;
    std::uint32_t self_id_;
    std::uint32_t peer_id_;
    std::string secret_;
    std::function<bool(std::uint32_t)> is_cluster_node_;
    LinkOffer offer_;
    LinkOffer peer_offer_{};
    AuthBytes dialer_nonce_{};
    AuthBytes acceptor_nonce_{};
};

}  // namespace dinx::cluster
