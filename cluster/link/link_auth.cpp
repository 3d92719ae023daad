#include "cluster/link/link_auth.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <cstring>
#include <stdexcept>

namespace dinx::cluster {
namespace {

void put_be(ByteBuffer& out, std::uint32_t value, int bytes) {
    for (int shift = 8 * (bytes - 1); shift >= 0; shift -= 8)
        out.push_back(std::byte(value >> shift));
}

std::uint32_t get_be(Bytes payload, std::size_t at, int bytes) {
    std::uint32_t value = 0;
    for (int i = 0; i < bytes; ++i)
        value = (value << 8) | std::to_integer<std::uint32_t>(payload[at + i]);
    return value;
}

}  // namespace

AuthBytes random_nonce() {
    AuthBytes nonce;
    if (RAND_bytes(reinterpret_cast<unsigned char*>(nonce.data()), int(nonce.size())) != 1)
        throw std::runtime_error("the random number generator failed");
    return nonce;
}

AuthBytes link_proof(const std::string& secret, LinkSide side, std::uint32_t dialer_id,
                     std::uint32_t acceptor_id, const LinkOffer& dialer_offer,
                     const LinkOffer& acceptor_offer, const AuthBytes& dialer_nonce,
                     const AuthBytes& acceptor_nonce) {
    ByteBuffer message;
    append(message, as_bytes(side == LinkSide::dialer ? "dinx link dialer" : "dinx link acceptor"));
    put_be(message, dialer_id, 4);
    put_be(message, acceptor_id, 4);
    append_link_offer(message, dialer_offer);
    append_link_offer(message, acceptor_offer);
    append(message, dialer_nonce);
    append(message, acceptor_nonce);
    return hmac_sha256(secret, message);
}

AuthBytes hmac_sha256(const std::string& secret, Bytes message) {
    AuthBytes digest{};
    unsigned int length = 0;
    if (!HMAC(EVP_sha256(), secret.data(), int(secret.size()),
              reinterpret_cast<const unsigned char*>(message.data()), message.size(),
              reinterpret_cast<unsigned char*>(digest.data()), &length) ||
        length != digest.size())
        throw std::runtime_error("HMAC-SHA256 failed");
    return digest;
}

bool proof_matches(Bytes received, const AuthBytes& expected) {
    return received.size() == expected.size() &&
           CRYPTO_memcmp(received.data(), expected.data(), expected.size()) == 0;
}

AuthBytes auth_bytes_at(Bytes payload, std::size_t at) {
    AuthBytes out;
    std::memcpy(out.data(), payload.data() + at, out.size());
    return out;
}

void append_link_offer(ByteBuffer& out, const LinkOffer& offer) {
    put_be(out, offer.version, 2);
    put_be(out, offer.features, 4);
}

LinkOffer link_offer_at(Bytes payload, std::size_t at) {
    return {static_cast<std::uint16_t>(get_be(payload, at, 2)), get_be(payload, at + 2, 4)};
}

}  // namespace dinx::cluster
