#pragma once
// What a framework user registers: a function run for each message of one msgID.

#include "node/bytes.hpp"
#include "node/router.hpp"

#include <functional>

namespace dinx::cluster {

class Context;

/// Runs on the io thread of the connection the message came from and must not block.
using Handler = std::function<void(Context& ctx, Bytes payload)>;
/// msgID -> Handler, shared read-only by every node of a process.
using HandlerTable = node::Router<Handler>;

}  // namespace dinx::cluster
