#include "cluster/observe/admin_protocol.hpp"

namespace dinx::cluster::admin {

AuthBytes admin_proof(const std::string& secret, std::uint32_t node_id,
                      const AuthBytes& node_nonce, const AuthBytes& caller_nonce) {
    ByteBuffer message;
    append(message, as_bytes("dinx admin"));
    for (int shift = 24; shift >= 0; shift -= 8) message.push_back(std::byte(node_id >> shift));
    append(message, node_nonce);
    append(message, caller_nonce);
    return hmac_sha256(secret, message);
}

}  // namespace dinx::cluster::admin
