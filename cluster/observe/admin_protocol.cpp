#include "cluster/observe/admin_protocol.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <stdexcept>

namespace dinx::cluster::admin {

AuthBytes admin_proof(const std::string& secret, std::uint32_t node_id,
                      const AuthBytes& node_nonce, const AuthBytes& caller_nonce) {
    ByteBuffer message;
    append(message, as_bytes("dinx admin"));
    for (int shift = 24; shift >= 0; shift -= 8) message.push_back(std::byte(node_id >> shift));
    append(message, node_nonce);
    append(message, caller_nonce);
    AuthBytes proof{};
    unsigned int length = 0;
    if (!HMAC(EVP_sha256(), secret.data(), int(secret.size()),
              reinterpret_cast<const unsigned char*>(message.data()), message.size(),
              reinterpret_cast<unsigned char*>(proof.data()), &length) ||
        length != proof.size())
        throw std::runtime_error("HMAC-SHA256 failed");
    return proof;
}

}  // namespace dinx::cluster::admin
