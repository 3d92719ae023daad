#pragma once
// Proof that both ends of a link know the cluster secret: HMAC-SHA256 over both node ids, what
// each end offers (link protocol version and feature bits) and a fresh nonce from each side
// (OpenSSL's libcrypto). Each side proves itself with a different label, so a proof cannot be
// reflected back; fresh nonces make a recorded proof worthless; covering both offers means a
// node in the middle cannot talk either end down to an older version or fewer features.
//
//   dialer  -> hello      via = dialer id, payload = dialer offer + dialer nonce
//   acceptor-> challenge  via = acceptor id,
//                         payload = acceptor offer + acceptor nonce + acceptor proof
//   dialer  -> proof      payload = dialer proof
//   acceptor-> hello_ack  the link is up
//
// An offer is the version (u16) then the feature bits (u32), both big-endian like every other
// integer the handshake hashes. Version 1 hellos and challenges carried no offer.

#include "node/bytes.hpp"

#include <array>
#include <cstdint>
#include <string>

namespace dinx::cluster {

/// Size of a nonce and of a proof.
inline constexpr std::size_t auth_size = 32;
/// A nonce or a proof.
using AuthBytes = std::array<std::byte, auth_size>;

/// Which side a proof speaks for.
enum class LinkSide { dialer, acceptor };

/// What one end of a link speaks: its link protocol version and its feature bits.
struct LinkOffer {
    std::uint16_t version = 0;   ///< link protocol version (link_handshake.hpp)
    std::uint32_t features = 0;  ///< one bit per optional feature it supports
};

/// Size of an offer on the wire: version u16, then feature bits u32, both big-endian.
inline constexpr std::size_t link_offer_size = 6;

/// A fresh random nonce (RAND_bytes); throws std::runtime_error if the RNG fails.
AuthBytes random_nonce();

/// HMAC-SHA256(secret, message): what every proof of the cluster secret is made of. Throws
/// std::runtime_error if OpenSSL fails.
AuthBytes hmac_sha256(const std::string& secret, Bytes message);

/// The proof `side` sends: HMAC-SHA256(secret, label(side) | dialer id | acceptor id |
/// dialer offer | acceptor offer | dialer nonce | acceptor nonce).
AuthBytes link_proof(const std::string& secret, LinkSide side, std::uint32_t dialer_id,
                     std::uint32_t acceptor_id, const LinkOffer& dialer_offer,
                     const LinkOffer& acceptor_offer, const AuthBytes& dialer_nonce,
                     const AuthBytes& acceptor_nonce);

/// Compares a received proof with the expected one in constant time.
bool proof_matches(Bytes received, const AuthBytes& expected);

/// Copies 32 bytes out of a payload (which must hold at least `at + 32`).
AuthBytes auth_bytes_at(Bytes payload, std::size_t at);

/// Appends `offer` as it travels (link_offer_size bytes).
void append_link_offer(ByteBuffer& out, const LinkOffer& offer);

/// Reads an offer out of a payload (which must hold at least `at + link_offer_size`).
LinkOffer link_offer_at(Bytes payload, std::size_t at);

}  // namespace dinx::cluster
