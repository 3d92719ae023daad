#pragma once
// What a framework user registers: a function run for each message of one msgID, the gate's
// interceptors, and the handler of session events.

#include "cluster/api/interceptor.hpp"
#include "cluster/api/session_event.hpp"
#include "node/bytes.hpp"
#include "node/router.hpp"

#include <functional>
#include <vector>

namespace dinx::cluster {

class Context;

/// Runs on the io thread of the connection the message came from and must not block.
using Handler = std::function<void(Context& ctx, Bytes payload)>;

/// Runs on a node of a group that listens to session events (route.toml `[events]`), once per
/// event; `ctx.client()` is the client concerned. Must not block.
using SessionEventHandler = std::function<void(Context& ctx, const SessionEvent& event)>;

/// Everything a process registered, shared read-only by every node of the process: msgID ->
/// Handler, the gate's interceptor chain in order, and the session event handler.
class HandlerTable : public node::Router<Handler> {
public:
    /// Interceptors, run in this order on every client frame of a gate before routing.
    std::vector<Interceptor> interceptors;
    /// The session event handler; empty when none was registered.
    SessionEventHandler session_events;
};

}  // namespace dinx::cluster
