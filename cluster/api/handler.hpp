#pragma once
// What a framework user registers: a function run for each message of one msgID (plain, or a
// coroutine that awaits calls), the methods other services call, the gate's interceptors, the
// handler of session events and the timers of services.

#include "cluster/api/call.hpp"
#include "cluster/api/interceptor.hpp"
#include "cluster/api/method_table.hpp"
#include "cluster/api/session_event.hpp"
#include "cluster/api/task.hpp"
#include "node/bytes.hpp"
#include "node/frame_codec.hpp"
#include "node/router.hpp"

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace dinx::cluster {

/// A client frame layout of a game's own (node/frame_codec.hpp), chosen per listener in dinx.toml
/// by `framing = "<its name>"`.
using FrameFormat = node::FrameFormat;
/// The msgID and body length a FrameFormat reads from and writes into a header.
using FrameHeader = node::FrameHeader;

class Context;

/// Runs on the node's thread (see the README's threading model) and must not block.
using Handler = std::function<void(Context& ctx, Bytes payload)>;

/// A handler that may co_await calls, timers and blocking work. The client's later messages to
/// this node wait until it is over, so a player's messages are still handled in order. `payload`
/// stays valid until it returns. Must not capture (the task outlives the lambda): pass what it
/// needs through the context or globals.
using CoroutineHandler = std::function<Task<void>(Context& ctx, Bytes payload)>;

/// A method other services call (Context::call): its reply payload, or a failure (an
/// `application` failure with the method's own code, or any CallError). `ctx.client()` is the
/// client the call was made for, if any; `ctx.remaining()` is what is left of the caller's
/// deadline.
using Method = std::function<Task<CallReply>(Context& ctx, Bytes payload)>;

/// A method that does not await anything.
using PlainMethod = std::function<CallReply(Context& ctx, Bytes payload)>;

/// A Method that runs `plain` (which lives as long as the Method).
inline Method plain_method(PlainMethod plain) {
    return [plain = std::move(plain)](Context& ctx, Bytes payload) -> Task<CallReply> {
        // The closure lives in the method table as long as the process: capturing is safe here.
        co_return plain(ctx, payload);
    };
}

/// A function a service runs every `period` on each of its nodes (no client: replies go nowhere).
struct ServiceTimer {
    std::string group;                  ///< it runs on each node of this group in the process
    std::chrono::milliseconds period;   ///< how often
    std::function<void(Context&)> run;  ///< what it does, on the node's thread
};

/// Runs on a node of a group that listens to session events (route.toml `[events]`), once per
/// event; `ctx.client()` is the client concerned. Must not block.
using SessionEventHandler = std::function<void(Context& ctx, const SessionEvent& event)>;

/// A coroutine a service starts once on each of its nodes when they start (a game loop, a
/// load generator): it gets a context of its own, which lives until the coroutine ends. A drain
/// does not wait for it; when the node stops, its calls and sleeps end at once, and it should
/// return.
struct ServiceStarter {
    std::string group;                        ///< it starts on each node of this group
    std::function<Task<void>(Context&)> run;  ///< what it runs, on the node's thread
};

/// Everything a process registered, shared read-only by every node of the process: msgID ->
/// Handler, the gate's interceptor chain in order, and the session event handler.
class HandlerTable : public node::Router<Handler> {
public:
    /// Registers the plain handler of `msg_id` (one handler per msgID, of either kind).
    void add(std::uint32_t msg_id, Handler handler) {
        refuse_taken(msg_id);
        node::Router<Handler>::add(msg_id, std::move(handler));
    }
    /// Registers the coroutine handler of `msg_id` (one handler per msgID, of either kind).
    void add_coroutine(std::uint32_t msg_id, CoroutineHandler handler) {
        refuse_taken(msg_id);
        coroutines.add(msg_id, std::move(handler));
    }
    /// Registers a method that awaits.
    void add_method(MethodRef method, Method run) { methods_add(method, std::move(run)); }
    /// True when `msg_id` has a handler of either kind.
    bool handles(std::uint32_t msg_id) const {
        return contains(msg_id) || coroutines.contains(msg_id);
    }

    /// Coroutine handlers by msgID (a msgID is in this table or in the plain one, not both).
    node::Router<CoroutineHandler> coroutines;
    /// Methods by id.
    MethodTable<Method> methods;
    /// Timers of services.
    std::vector<ServiceTimer> timers;
    /// Coroutines services start with their nodes.
    std::vector<ServiceStarter> starters;
    /// Interceptors, run in this order on every client frame of a gate before routing.
    std::vector<Interceptor> interceptors;
    /// The session event handler; empty when none was registered.
    SessionEventHandler session_events;
    /// Frame layouts a game registered, by the name dinx.toml's `framing` gives them.
    std::map<std::string, std::shared_ptr<const FrameFormat>, std::less<>> framings;

    /// Registers a frame layout under its name(); "tlv", "ltv" and names already taken are
    /// refused.
    void add_framing(std::shared_ptr<const FrameFormat> format) {
        std::string name(format->name());
        if (name == "tlv" || name == "ltv" || framings.contains(name))
            throw std::logic_error("a framing named '" + name + "' is already registered");
        if (format->header_size() == 0 || format->header_size() > node::max_frame_header_size)
            throw std::logic_error("framing '" + name + "': a header is 1 to 32 bytes");
        framings.emplace(std::move(name), std::move(format));
    }

private:
    void refuse_taken(std::uint32_t msg_id) const {
        if (handles(msg_id))
            throw std::logic_error("a handler for msg_id " + std::to_string(msg_id) +
                                   " is already registered");
    }
    /// Registers by name when it has one, so a clash names both.
    void methods_add(MethodRef method, Method run) {
        if (method.named())
            methods.add(method.name(), std::move(run));
        else
            methods.add(method.id(), std::move(run));
    }
};

}  // namespace dinx::cluster
