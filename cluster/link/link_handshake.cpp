#include "cluster/link/link_handshake.hpp"

namespace dinx::cluster {
namespace {

// Payload sizes of this version, and of version 1, whose frames carried no offer: how a
// version-1 peer is told apart.
constexpr std::size_t hello_size = link_offer_size + auth_size;
constexpr std::size_t challenge_size = link_offer_size + 2 * auth_size;
constexpr std::size_t hello_size_v1 = auth_size;
constexpr std::size_t challenge_size_v1 = 2 * auth_size;
static_assert(min_link_protocol_version > 1,
              "speaking version 1 again would need its layout: its frames have no offer");

const char* name_of(EnvelopeKind kind) {
    switch (kind) {
        case EnvelopeKind::hello:
            return "hello";
        case EnvelopeKind::challenge:
            return "challenge";
        case EnvelopeKind::proof:
            return "proof";
        case EnvelopeKind::hello_ack:
            return "hello_ack";
        default:
            return "message";
    }
}

// Why node `peer` cannot link with us, naming both versions; empty when we speak its version.
std::string version_refusal(std::uint32_t peer, std::uint16_t version) {
    if (version >= min_link_protocol_version && version <= max_link_protocol_version) return {};
    return "node " + std::to_string(peer) + " speaks link protocol " + std::to_string(version) +
           "; this node speaks " + std::to_string(min_link_protocol_version) + " to " +
           std::to_string(max_link_protocol_version);
}

// The offer opening a hello or challenge (`what`) from node `peer`, or why it is refused. The
// version is checked before the size, since another version may lay out the rest differently.
struct ReadOffer {
    LinkOffer offer;
    std::string refusal;
};
ReadOffer read_offer(Bytes payload, std::uint32_t peer, std::size_t size, std::size_t size_v1,
                     const std::string& what) {
    if (payload.size() == size_v1) return {{1, no_link_features}, version_refusal(peer, 1)};
    if (payload.size() < link_offer_size) return {{}, "malformed " + what};
    auto offer = link_offer_at(payload, 0);
    if (auto why = version_refusal(peer, offer.version); !why.empty()) return {offer, why};
    if (payload.size() != size) return {offer, "malformed " + what};
    return {offer, {}};
}

// The same words for a wrong secret and for an offer altered in transit: the proofs differ.
std::string wrong_secret(std::uint32_t peer) {
    return "node " + std::to_string(peer) +
           " does not know the cluster secret (wrong secret, or the handshake was altered on "
           "the way?)";
}

}  // namespace

LinkHandshake::LinkHandshake(LinkRole role, std::uint32_t self_id, std::uint32_t expected_peer,
                             std::string secret, std::function<bool(std::uint32_t)> is_cluster_node,
                             LinkOffer offer)
    : role_(role),
      stage_(role == LinkRole::accepted ? Stage::await_hello : Stage::await_challenge),
      self_id_(self_id),
      peer_id_(role == LinkRole::dialed ? expected_peer : 0),
      secret_(std::move(secret)),
      is_cluster_node_(std::move(is_cluster_node)),
      offer_(offer) {}

std::optional<HandshakeFrame> LinkHandshake::start() {
    if (role_ != LinkRole::dialed) return std::nullopt;
    dialer_nonce_ = random_nonce();
    ByteBuffer payload;
    append_link_offer(payload, offer_);
    append(payload, dialer_nonce_);
    return HandshakeFrame{EnvelopeKind::hello, std::move(payload)};
}

HandshakeStep LinkHandshake::on_envelope(const Envelope& envelope) {
    static constexpr EnvelopeKind expected[] = {EnvelopeKind::hello, EnvelopeKind::challenge,
                                                EnvelopeKind::proof, EnvelopeKind::hello_ack};
    if (stage_ == Stage::done) return refuse("handshake frame on an open link");
    auto want = expected[static_cast<int>(stage_)];
    if (envelope.kind != want)
        return refuse(std::string("expected a ") + name_of(want) + ", got a " +
                      name_of(envelope.kind) + " (kind " +
                      std::to_string(static_cast<std::uint32_t>(envelope.kind)) + ")");
    switch (stage_) {
        case Stage::await_hello:
            return on_hello(envelope);
        case Stage::await_challenge:
            return on_challenge(envelope);
        case Stage::await_proof:
            return on_proof(envelope);
        default:  // await_ack
            stage_ = Stage::done;
            return {std::nullopt, true, {}};
    }
}

// Acceptor: a dialer names itself and its version; answer with ours, our nonce and our proof.
HandshakeStep LinkHandshake::on_hello(const Envelope& envelope) {
    if (!is_cluster_node_(envelope.via))
        return refuse("hello from node id " + std::to_string(envelope.via) +
                      ", which is not in the config");
    auto read = read_offer(envelope.payload, envelope.via, hello_size, hello_size_v1, "hello");
    if (!read.refusal.empty()) return refuse(read.refusal);
    peer_id_ = envelope.via;
    peer_offer_ = read.offer;
    dialer_nonce_ = auth_bytes_at(envelope.payload, link_offer_size);
    acceptor_nonce_ = random_nonce();
    ByteBuffer payload;
    append_link_offer(payload, offer_);
    append(payload, acceptor_nonce_);
    append(payload, proof_of(LinkSide::acceptor));
    stage_ = Stage::await_proof;
    return {HandshakeFrame{EnvelopeKind::challenge, std::move(payload)}, false, {}};
}

// Dialer: the node we dialed must be the one we meant, speak our version, know the secret.
HandshakeStep LinkHandshake::on_challenge(const Envelope& envelope) {
    if (envelope.via != peer_id_)
        return refuse("dialed node " + std::to_string(peer_id_) + " but node " +
                      std::to_string(envelope.via) + " answered");
    auto read =
        read_offer(envelope.payload, peer_id_, challenge_size, challenge_size_v1, "challenge");
    if (!read.refusal.empty()) return refuse(read.refusal);
    peer_offer_ = read.offer;
    acceptor_nonce_ = auth_bytes_at(envelope.payload, link_offer_size);
    if (!proof_matches(envelope.payload.subspan(link_offer_size + auth_size),
                       proof_of(LinkSide::acceptor)))
        return refuse(wrong_secret(peer_id_));
    auto proof = proof_of(LinkSide::dialer);
    stage_ = Stage::await_ack;
    return {HandshakeFrame{EnvelopeKind::proof, ByteBuffer(proof.begin(), proof.end())}, false, {}};
}

// Acceptor: the dialer's proof decides.
HandshakeStep LinkHandshake::on_proof(const Envelope& envelope) {
    if (!proof_matches(envelope.payload, proof_of(LinkSide::dialer)))
        return refuse(wrong_secret(peer_id_));
    stage_ = Stage::done;
    return {HandshakeFrame{EnvelopeKind::hello_ack, {}}, true, {}};
}

// The proof `side` sends on this link. It covers both offers as this end sent and received
// them, so an offer altered in transit makes the two ends compute different proofs.
AuthBytes LinkHandshake::proof_of(LinkSide side) const {
    bool dialed = role_ == LinkRole::dialed;
    return link_proof(secret_, side, dialed ? self_id_ : peer_id_, dialed ? peer_id_ : self_id_,
                      dialed ? offer_ : peer_offer_, dialed ? peer_offer_ : offer_, dialer_nonce_,
                      acceptor_nonce_);
}

}  // namespace dinx::cluster
