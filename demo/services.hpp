#pragma once
// The demo's services that call services (issue 10): an account service and a rank service,
// and the gate's coroutine handlers that use them.
//
//   14 sign_in "<name>"   binds the name, then calls account (account.load) and the player's
//                         rank node (rank.of): "welcome <name>: level L, visit V, rank R of N"
//   15 score "<points>"   adds to the player's score on its rank node (sticky by uid):
//                         "<uid> +P: score S, rank R of N on rank-K"
//   16 leaderboard        calls every rank node (call_all) and merges their top 5:
//                         "top: alice 30, bob 20" (a node that did not answer is named)
//   17 standing           a typed call: a protobuf StandingRequest to the player's rank node
//                         (rank.standing, a proto_method), a protobuf Standing back:
//                         "<uid>: score S, rank R of N on rank-K (protobuf)"; in a build without
//                         protobuf, "standing needs a dinx-demo built with protobuf"
//
// Each rank node keeps its players' scores in a plain std::map: a backend runs on one io thread,
// so its methods never run at once and need no lock. The maps are per node, since one process
// may run several rank nodes (each on its own thread).

#include "cluster/dinx.hpp"

#include <cstdint>

namespace dinx::demo {

/// The msgIDs of the services' handlers (route.toml sends them to the gates).
enum ServiceMsgId : std::uint32_t {
    sign_in = 14,
    score = 15,
    leaderboard = 16,
    standing = 17,
};

/// Registers the account and rank methods and the handlers of 14 to 16 on `app`.
void register_services(App& app);

}  // namespace dinx::demo
