#include "cluster/link_handshake.hpp"

namespace dinx::cluster {
namespace {

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

}  // namespace

LinkHandshake::LinkHandshake(LinkRole role, std::uint32_t self_id, std::uint32_t expected_peer,
                             std::string secret, std::function<bool(std::uint32_t)> is_cluster_node)
    : role_(role),
      stage_(role == LinkRole::accepted ? Stage::await_hello : Stage::await_challenge),
      self_id_(self_id),
      peer_id_(role == LinkRole::dialed ? expected_peer : 0),
      secret_(std::move(secret)),
      is_cluster_node_(std::move(is_cluster_node)) {}

std::optional<HandshakeFrame> LinkHandshake::start() {
    if (role_ != LinkRole::dialed) return std::nullopt;
    dialer_nonce_ = random_nonce();
    return HandshakeFrame{EnvelopeKind::hello,
                          ByteBuffer(dialer_nonce_.begin(), dialer_nonce_.end())};
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

// Acceptor: a dialer names itself; answer with our nonce and our proof.
HandshakeStep LinkHandshake::on_hello(const Envelope& envelope) {
    if (!is_cluster_node_(envelope.via))
        return refuse("hello from node id " + std::to_string(envelope.via) +
                      ", which is not in the config");
    if (envelope.payload.size() != auth_size) return refuse("malformed hello");
    peer_id_ = envelope.via;
    dialer_nonce_ = auth_bytes_at(envelope.payload, 0);
    acceptor_nonce_ = random_nonce();
    auto proof =
        link_proof(secret_, LinkSide::acceptor, peer_id_, self_id_, dialer_nonce_, acceptor_nonce_);
    ByteBuffer payload(acceptor_nonce_.begin(), acceptor_nonce_.end());
    append(payload, proof);
    stage_ = Stage::await_proof;
    return {HandshakeFrame{EnvelopeKind::challenge, std::move(payload)}, false, {}};
}

// Dialer: the node we dialed must be the one we meant, and must know the secret.
HandshakeStep LinkHandshake::on_challenge(const Envelope& envelope) {
    if (envelope.via != peer_id_)
        return refuse("dialed node " + std::to_string(peer_id_) + " but node " +
                      std::to_string(envelope.via) + " answered");
    if (envelope.payload.size() != 2 * auth_size) return refuse("malformed challenge");
    acceptor_nonce_ = auth_bytes_at(envelope.payload, 0);
    auto expected =
        link_proof(secret_, LinkSide::acceptor, self_id_, peer_id_, dialer_nonce_, acceptor_nonce_);
    if (!proof_matches(envelope.payload.subspan(auth_size), expected))
        return refuse("node " + std::to_string(peer_id_) +
                      " does not know the cluster secret (wrong secret?)");
    auto proof =
        link_proof(secret_, LinkSide::dialer, self_id_, peer_id_, dialer_nonce_, acceptor_nonce_);
    stage_ = Stage::await_ack;
    return {HandshakeFrame{EnvelopeKind::proof, ByteBuffer(proof.begin(), proof.end())}, false, {}};
}

// Acceptor: the dialer's proof decides.
HandshakeStep LinkHandshake::on_proof(const Envelope& envelope) {
    auto expected =
        link_proof(secret_, LinkSide::dialer, peer_id_, self_id_, dialer_nonce_, acceptor_nonce_);
    if (!proof_matches(envelope.payload, expected))
        return refuse("node " + std::to_string(peer_id_) +
                      " does not know the cluster secret (wrong secret?)");
    stage_ = Stage::done;
    return {HandshakeFrame{EnvelopeKind::hello_ack, {}}, true, {}};
}

}  // namespace dinx::cluster
