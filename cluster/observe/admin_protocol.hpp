#pragma once
// The admin protocol between `ctl` and a node's admin endpoint: zinx TLV frames on a TCP
// connection that only trusted callers reach (loopback by default). The node speaks first:
//
//   node -> challenge  [flags u8][node nonce 32]     flags bit 0: the cluster has a secret
//   ctl  -> proof      [ctl nonce 32][proof 32]       (empty when the cluster has no secret)
//   node -> welcome    the node's name                 or refused (a reason), then it closes
//   ctl  -> command    JSON {"command": "status", "argument": "..."}
//   node -> answer     JSON {"ok": true, ...} or {"ok": false, "error": "..."}   (repeat)
//
// The proof is HMAC-SHA256 of the cluster secret over a label, the node's id and both nonces:
// the node's fresh nonce makes a recorded proof worthless, the label keeps it apart from link
// proofs. Without a secret, the node answers only callers on its own machine (loopback).

#include "cluster/link/link_auth.hpp"

#include <cstdint>
#include <string>

namespace dinx::cluster::admin {

/// Frame msgIDs of the admin protocol.
enum Msg : std::uint32_t {
    challenge = 1,  ///< node: flags and nonce
    proof = 2,      ///< ctl: nonce and proof
    welcome = 3,    ///< node: authenticated; payload is the node's name
    refused = 4,    ///< node: not authenticated or not allowed; payload says why
    command = 10,   ///< ctl: a JSON command
    answer = 11,    ///< node: its JSON answer
};

/// Challenge flag: the cluster has a secret, so a proof is required.
inline constexpr std::uint8_t secret_required = 1;
/// Largest frame a node reads from a caller (commands are small).
inline constexpr std::uint32_t max_command_bytes = 64 * 1024;
/// Largest answer a caller reads (a route table of a big game).
inline constexpr std::uint32_t max_answer_bytes = 16 << 20;

/// The proof a caller sends to node `node_id`: HMAC-SHA256(secret, "dinx admin" | node id |
/// node nonce | caller nonce).
AuthBytes admin_proof(const std::string& secret, std::uint32_t node_id,
                      const AuthBytes& node_nonce, const AuthBytes& caller_nonce);

}  // namespace dinx::cluster::admin
