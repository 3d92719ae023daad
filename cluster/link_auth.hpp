#pragma once
// Proof that both ends of a link know the cluster secret: HMAC-SHA256 over both node ids and
// a fresh nonce from each side (OpenSSL's libcrypto). Each side proves itself with a different
// label, so a proof cannot be reflected back; fresh nonces make a recorded proof worthless.
//
//   dialer  -> hello      via = dialer id, payload = dialer nonce
//   acceptor-> challenge  via = acceptor id, payload = acceptor nonce + acceptor proof
//   dialer  -> proof      payload = dialer proof
//   acceptor-> hello_ack  the link is up

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

/// A fresh random nonce (RAND_bytes); throws std::runtime_error if the RNG fails.
AuthBytes random_nonce();

/// The proof `side` sends: HMAC-SHA256(secret, label(side) | dialer id | acceptor id |
/// dialer nonce | acceptor nonce).
AuthBytes link_proof(const std::string& secret, LinkSide side, std::uint32_t dialer_id,
                     std::uint32_t acceptor_id, const AuthBytes& dialer_nonce,
                     const AuthBytes& acceptor_nonce);

/// Compares a received proof with the expected one in constant time.
bool proof_matches(Bytes received, const AuthBytes& expected);

/// Copies 32 bytes out of a payload (which must hold at least `at + 32`).
AuthBytes auth_bytes_at(Bytes payload, std::size_t at);

}  // namespace dinx::cluster
