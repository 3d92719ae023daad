// The link handshake: both ends prove the cluster secret, the acceptor knows the dialer's id,
// and anything else is refused.

#include "cluster/link_handshake.hpp"

#include <doctest/doctest.h>

using namespace dinx;
using namespace dinx::cluster;

namespace {

auto known = [](std::uint32_t id) { return id >= 1 && id <= 3; };

// What the other side receives when `from` sends `frame`.
Envelope deliver(const HandshakeFrame& frame, std::uint32_t from) {
    return Envelope{frame.kind, 0, {}, 0, from, frame.payload};
}

// Runs a whole handshake; returns the refusal (empty when both ends finished).
std::string run(LinkHandshake& dialer, LinkHandshake& acceptor) {
    auto hello = dialer.start();
    REQUIRE(hello);
    auto challenge = acceptor.on_envelope(deliver(*hello, 1));
    if (!challenge.refusal.empty()) return "acceptor: " + challenge.refusal;
    auto proof = dialer.on_envelope(deliver(*challenge.send, 2));
    if (!proof.refusal.empty()) return "dialer: " + proof.refusal;
    auto ack = acceptor.on_envelope(deliver(*proof.send, 1));
    if (!ack.refusal.empty()) return "acceptor: " + ack.refusal;
    CHECK(ack.done);
    auto up = dialer.on_envelope(deliver(*ack.send, 2));
    CHECK(up.done);
    return up.refusal;
}

}  // namespace

TEST_CASE("two nodes with the same secret link up and learn each other's id") {
    LinkHandshake dialer(LinkRole::dialed, 1, 2, "s3cret-s3cret-s3cret", known);
    LinkHandshake acceptor(LinkRole::accepted, 2, 0, "s3cret-s3cret-s3cret", known);
    CHECK(run(dialer, acceptor).empty());
    CHECK(dialer.peer_id() == 2);
    CHECK(acceptor.peer_id() == 1);
}

TEST_CASE("a dialer with another secret rejects the acceptor's proof") {
    LinkHandshake dialer(LinkRole::dialed, 1, 2, "wrong", known);
    LinkHandshake acceptor(LinkRole::accepted, 2, 0, "right", known);
    auto refusal = run(dialer, acceptor);
    CHECK(refusal.find("dialer: node 2 does not know the cluster secret") == 0);
}

TEST_CASE("an acceptor rejects a proof made with another secret") {
    LinkHandshake acceptor(LinkRole::accepted, 2, 0, "right", known);
    LinkHandshake honest(LinkRole::dialed, 1, 2, "right", known);
    auto hello = honest.start();
    auto challenge = acceptor.on_envelope(deliver(*hello, 1));
    REQUIRE(challenge.send);
    // A forger who saw the challenge but not the secret.
    auto forged = link_proof("wrong", LinkSide::dialer, 1, 2, auth_bytes_at(hello->payload, 0),
                             auth_bytes_at(challenge.send->payload, 0));
    auto step = acceptor.on_envelope(
        Envelope{EnvelopeKind::proof, 0, {}, 0, 1, Bytes{forged.data(), forged.size()}});
    CHECK_FALSE(step.done);
    CHECK(step.refusal.find("does not know the cluster secret") != std::string::npos);
}

TEST_CASE("a proof recorded from one handshake is worthless in the next") {
    LinkHandshake dialer(LinkRole::dialed, 1, 2, "secret", known);
    LinkHandshake first(LinkRole::accepted, 2, 0, "secret", known);
    auto hello = dialer.start();
    auto challenge = first.on_envelope(deliver(*hello, 1));
    auto proof = dialer.on_envelope(deliver(*challenge.send, 2));
    REQUIRE(proof.send);
    // Replayed, with the same hello, to a fresh acceptor: its nonce differs.
    LinkHandshake second(LinkRole::accepted, 2, 0, "secret", known);
    second.on_envelope(deliver(*hello, 1));
    auto step = second.on_envelope(deliver(*proof.send, 1));
    CHECK_FALSE(step.done);
    CHECK_FALSE(step.refusal.empty());
}

TEST_CASE("a hello from a node id not in the config is refused") {
    LinkHandshake acceptor(LinkRole::accepted, 2, 0, "secret", known);
    LinkHandshake stranger(LinkRole::dialed, 99, 2, "secret", known);
    auto step = acceptor.on_envelope(deliver(*stranger.start(), 99));
    CHECK(step.refusal == "hello from node id 99, which is not in the config");
}

TEST_CASE("any first frame other than a hello is refused") {
    LinkHandshake acceptor(LinkRole::accepted, 2, 0, "secret", known);
    auto step = acceptor.on_envelope(Envelope{EnvelopeKind::request, 1, {1, 1, ""}, 3, 0, {}});
    CHECK(step.refusal.find("expected a hello") == 0);
}

TEST_CASE("a malformed hello is refused") {
    LinkHandshake acceptor(LinkRole::accepted, 2, 0, "secret", known);
    std::string short_nonce = "abc";
    auto step =
        acceptor.on_envelope(Envelope{EnvelopeKind::hello, 0, {}, 0, 1, as_bytes(short_nonce)});
    CHECK(step.refusal == "malformed hello");
}

TEST_CASE("a dialer refuses an answer from a node other than the one it dialed") {
    LinkHandshake dialer(LinkRole::dialed, 1, 2, "secret", known);
    LinkHandshake impostor(LinkRole::accepted, 3, 0, "secret", known);
    auto challenge = impostor.on_envelope(deliver(*dialer.start(), 1));
    auto step = dialer.on_envelope(deliver(*challenge.send, 3));
    CHECK(step.refusal == "dialed node 2 but node 3 answered");
}

TEST_CASE("a handshake frame after the link is up is refused") {
    LinkHandshake dialer(LinkRole::dialed, 1, 2, "secret", known);
    LinkHandshake acceptor(LinkRole::accepted, 2, 0, "secret", known);
    REQUIRE(run(dialer, acceptor).empty());
    auto again = acceptor.on_envelope(Envelope{EnvelopeKind::hello, 0, {}, 0, 1, {}});
    CHECK(again.refusal == "handshake frame on an open link");
}
