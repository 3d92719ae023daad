// The link handshake: both ends prove the cluster secret, the acceptor knows the dialer's id,
// both speak a link protocol version the other speaks, and anything else is refused.

#include "cluster/link/link_handshake.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <functional>

using namespace dinx;
using namespace dinx::cluster;

namespace {

auto known = [](std::uint32_t id) { return id >= 1 && id <= 3; };

// What the other side receives when `from` sends `frame`.
Envelope deliver(const HandshakeFrame& frame, std::uint32_t from) {
    return Envelope{frame.kind, 0, {}, 0, from, frame.payload};
}

// Changes a frame on its way, as a node in the middle could.
using Tamper = std::function<void(ByteBuffer&)>;
const Tamper untouched = [](ByteBuffer&) {};

// Runs a whole handshake; returns the refusal (empty when both ends finished).
std::string run(LinkHandshake& dialer, LinkHandshake& acceptor,
                const Tamper& hello_tamper = untouched,
                const Tamper& challenge_tamper = untouched) {
    auto hello = dialer.start();
    REQUIRE(hello);
    hello_tamper(hello->payload);
    auto challenge = acceptor.on_envelope(deliver(*hello, 1));
    if (!challenge.refusal.empty()) return "acceptor: " + challenge.refusal;
    challenge_tamper(challenge.send->payload);
    auto proof = dialer.on_envelope(deliver(*challenge.send, 2));
    if (!proof.refusal.empty()) return "dialer: " + proof.refusal;
    auto ack = acceptor.on_envelope(deliver(*proof.send, 1));
    if (!ack.refusal.empty()) return "acceptor: " + ack.refusal;
    CHECK(ack.done);
    auto up = dialer.on_envelope(deliver(*ack.send, 2));
    CHECK(up.done);
    return up.refusal;
}

// A hello as node 3 sends it: `head` (what goes before the nonce), then a nonce.
Envelope hello_from_3(const ByteBuffer& head, ByteBuffer& storage) {
    storage = head;
    append(storage, random_nonce());
    return Envelope{EnvelopeKind::hello, 0, {}, 0, 3, storage};
}

// The range this node speaks, as refusals name it.
std::string our_range() {
    return std::to_string(min_link_protocol_version) + " to " +
           std::to_string(max_link_protocol_version);
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
    auto forged = link_proof("wrong", LinkSide::dialer, 1, 2, current_link_offer,
                             current_link_offer, auth_bytes_at(hello->payload, link_offer_size),
                             auth_bytes_at(challenge.send->payload, link_offer_size));
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

TEST_CASE("a hello and a challenge open with the version u16 and feature bits u32, big-endian") {
    LinkHandshake dialer(LinkRole::dialed, 1, 2, "secret", known, {3, 0x01020304});
    LinkHandshake acceptor(LinkRole::accepted, 2, 0, "secret", known, {3, 0x0a0b0c0d});
    auto hello = dialer.start();
    REQUIRE(hello->payload.size() == 6 + 32);
    CHECK(hello->payload[0] == std::byte{0x00});
    CHECK(hello->payload[1] == std::byte{0x03});
    CHECK(hello->payload[2] == std::byte{0x01});
    CHECK(hello->payload[5] == std::byte{0x04});
    auto challenge = acceptor.on_envelope(deliver(*hello, 1));
    REQUIRE(challenge.send);
    REQUIRE(challenge.send->payload.size() == 6 + 32 + 32);
    CHECK(challenge.send->payload[1] == std::byte{0x03});
    CHECK(challenge.send->payload[2] == std::byte{0x0a});
    CHECK(challenge.send->payload[5] == std::byte{0x0d});
}

TEST_CASE("both ends learn each other's version and use only the feature bits both offer") {
    LinkHandshake dialer(LinkRole::dialed, 1, 2, "secret", known, {3, 0b0110});
    LinkHandshake acceptor(LinkRole::accepted, 2, 0, "secret", known, {3, 0b0011});
    REQUIRE(run(dialer, acceptor).empty());
    CHECK(dialer.peer_version() == 3);
    CHECK(acceptor.peer_version() == 3);
    CHECK(dialer.features() == 0b0010);
    CHECK(acceptor.features() == 0b0010);
}

TEST_CASE("two nodes of this release link at this release's version with no feature bits") {
    LinkHandshake dialer(LinkRole::dialed, 1, 2, "secret", known);
    LinkHandshake acceptor(LinkRole::accepted, 2, 0, "secret", known);
    REQUIRE(run(dialer, acceptor).empty());
    CHECK(dialer.peer_version() == link_protocol_version);
    CHECK(acceptor.peer_version() == link_protocol_version);
    CHECK(dialer.features() == no_link_features);
    CHECK(acceptor.features() == no_link_features);
}

TEST_CASE("a version-1 hello, a bare nonce, is refused naming both versions") {
    LinkHandshake acceptor(LinkRole::accepted, 2, 0, "secret", known);
    ByteBuffer storage;
    auto step = acceptor.on_envelope(hello_from_3({}, storage));
    CHECK_FALSE(step.send);
    CHECK(step.refusal == "node 3 speaks link protocol 1; this node speaks " + our_range());
}

TEST_CASE("a hello of a version newer than this node speaks is refused naming both versions") {
    LinkHandshake acceptor(LinkRole::accepted, 2, 0, "secret", known);
    std::uint16_t newer = max_link_protocol_version + 1;
    ByteBuffer head;
    append_link_offer(head, {newer, no_link_features});
    ByteBuffer storage;
    auto step = acceptor.on_envelope(hello_from_3(head, storage));
    CHECK_FALSE(step.send);
    CHECK(step.refusal == "node 3 speaks link protocol " + std::to_string(newer) +
                              "; this node speaks " + our_range());
}

TEST_CASE("a hello of a version older than this node speaks is refused naming both versions") {
    LinkHandshake acceptor(LinkRole::accepted, 2, 0, "secret", known);
    std::uint16_t older = min_link_protocol_version - 1;
    ByteBuffer head;
    append_link_offer(head, {older, no_link_features});
    ByteBuffer storage;
    auto step = acceptor.on_envelope(hello_from_3(head, storage));
    CHECK(step.refusal == "node 3 speaks link protocol " + std::to_string(older) +
                              "; this node speaks " + our_range());
}

TEST_CASE("a dialer refuses a challenge of a version it does not speak, naming both versions") {
    std::uint16_t newer = max_link_protocol_version + 1;
    LinkHandshake dialer(LinkRole::dialed, 1, 2, "secret", known);
    LinkHandshake acceptor(LinkRole::accepted, 2, 0, "secret", known, {newer, no_link_features});
    CHECK(run(dialer, acceptor) == "dialer: node 2 speaks link protocol " + std::to_string(newer) +
                                       "; this node speaks " + our_range());
}

TEST_CASE("a dialer refuses a version-1 challenge, a nonce and a proof, naming both versions") {
    LinkHandshake dialer(LinkRole::dialed, 1, 2, "secret", known);
    LinkHandshake acceptor(LinkRole::accepted, 2, 0, "secret", known);
    auto strip_offer = [](ByteBuffer& payload) {
        payload.erase(payload.begin(), payload.begin() + link_offer_size);
    };
    CHECK(run(dialer, acceptor, untouched, strip_offer) ==
          "dialer: node 2 speaks link protocol 1; this node speaks " + our_range());
}

TEST_CASE("a version or feature bits altered in transit make the proof fail") {
    // A node in the middle rewrites an offer to one both ends accept: a downgrade.
    auto set_version = [](std::uint16_t version) {
        return [version](ByteBuffer& payload) {
            ByteBuffer head;
            append_link_offer(head, {version, link_offer_at(payload, 0).features});
            std::copy(head.begin(), head.end(), payload.begin());
        };
    };
    auto clear_features = [](ByteBuffer& payload) {
        std::fill(payload.begin() + 2, payload.begin() + link_offer_size, std::byte{0});
    };
    std::uint16_t newer = max_link_protocol_version + 1;
    std::string refusal;
    SUBCASE("the version of a newer dialer's hello") {
        LinkHandshake dialer(LinkRole::dialed, 1, 2, "secret", known, {newer, no_link_features});
        LinkHandshake acceptor(LinkRole::accepted, 2, 0, "secret", known);
        refusal = run(dialer, acceptor, set_version(link_protocol_version));
    }
    SUBCASE("the version of a newer acceptor's challenge") {
        LinkHandshake dialer(LinkRole::dialed, 1, 2, "secret", known);
        LinkHandshake acceptor(LinkRole::accepted, 2, 0, "secret", known,
                               {newer, no_link_features});
        refusal = run(dialer, acceptor, untouched, set_version(link_protocol_version));
    }
    SUBCASE("the feature bits of a hello") {
        LinkHandshake dialer(LinkRole::dialed, 1, 2, "secret", known, {link_protocol_version, 1});
        LinkHandshake acceptor(LinkRole::accepted, 2, 0, "secret", known);
        refusal = run(dialer, acceptor, clear_features);
    }
    SUBCASE("the feature bits of a challenge") {
        LinkHandshake dialer(LinkRole::dialed, 1, 2, "secret", known);
        LinkHandshake acceptor(LinkRole::accepted, 2, 0, "secret", known,
                               {link_protocol_version, 1});
        refusal = run(dialer, acceptor, untouched, clear_features);
    }
    CHECK(refusal.find("dialer: node 2 does not know the cluster secret") == 0);
}

TEST_CASE("an acceptor checks that the dialer's proof covers the offers it received") {
    // The dialer's proof, recomputed by someone who knows the secret but saw other offers.
    LinkHandshake dialer(LinkRole::dialed, 1, 2, "secret", known);
    LinkHandshake acceptor(LinkRole::accepted, 2, 0, "secret", known);
    auto hello = dialer.start();
    auto challenge = acceptor.on_envelope(deliver(*hello, 1));
    REQUIRE(challenge.send);
    auto skewed = link_proof("secret", LinkSide::dialer, 1, 2, {link_protocol_version, 1},
                             current_link_offer, auth_bytes_at(hello->payload, link_offer_size),
                             auth_bytes_at(challenge.send->payload, link_offer_size));
    auto step = acceptor.on_envelope(
        Envelope{EnvelopeKind::proof, 0, {}, 0, 1, Bytes{skewed.data(), skewed.size()}});
    CHECK_FALSE(step.done);
    CHECK(step.refusal.find("does not know the cluster secret") != std::string::npos);
}
