#pragma once
// What a handler can do with the message it runs for, wherever it runs: on the client's own
// gate or on a backend that got the message in an envelope. An interface: the runtime gives a
// handler its implementation, and dinx::testing::FakeContext records what a handler did.

#include "cluster/api/call.hpp"
#include "cluster/api/error.hpp"
#include "cluster/api/origin.hpp"
#include "cluster/api/session.hpp"
#include "cluster/api/task.hpp"
#include "dict/config.hpp"
#include "node/bytes.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace dinx::cluster {

namespace detail {

/// Awaits `done`, then gives what it left in `result`.
template <class Result>
Task<Result> take_result(Task<void> done, std::shared_ptr<std::optional<Result>> result) {
    co_await done;
    co_return std::move(**result);
}

}  // namespace detail

/// The message a handler runs for, and the ways to answer it. Valid during the handler call.
class Context {
public:
    virtual ~Context() = default;
    Context(const Context&) = delete;
    Context& operator=(const Context&) = delete;

    /// The node running the handler (its dinx.toml row).
    virtual const dict::NodeInfo& node() const = 0;
    /// The whole cluster configuration.
    virtual const dict::Config& config() const = 0;
    /// The msgID being handled.
    virtual std::uint32_t msg_id() const = 0;
    /// The client the message came from: gate id, connection id, bound uid.
    virtual const Origin& client() const = 0;
    /// The node that forwarded this message here, or nullptr when it came straight from a gate.
    virtual const dict::NodeInfo* forwarded_by() const = 0;
    /// True once a reply or an error frame was sent for this message.
    virtual bool answered() const = 0;

    /// Sends a frame back to the client, by the way the request came. The first reply (or
    /// fail) is the request's answer; later ones are delivered after it, in order.
    void reply(std::uint32_t msg_id, Bytes payload) { do_reply(msg_id, payload); }
    /// reply() with text.
    void reply(std::uint32_t msg_id, std::string_view text) { do_reply(msg_id, as_bytes(text)); }
    /// Sends a frame to any client, named by its gate id and connection id.
    void send_to(std::uint32_t gate_id, std::uint64_t conn_id, std::uint32_t msg_id,
                 Bytes payload) {
        do_send_to(gate_id, conn_id, msg_id, payload);
    }
    /// send_to() with text.
    void send_to(std::uint32_t gate_id, std::uint64_t conn_id, std::uint32_t msg_id,
                 std::string_view text) {
        do_send_to(gate_id, conn_id, msg_id, as_bytes(text));
    }
    /// Sends a frame to every client of every gate, this one included.
    void broadcast(std::uint32_t msg_id, Bytes payload) { do_broadcast(msg_id, payload); }
    /// broadcast() with text.
    void broadcast(std::uint32_t msg_id, std::string_view text) {
        do_broadcast(msg_id, as_bytes(text));
    }
    /// Passes the request on to a live node of `group` (sticky for the client), keeping the
    /// client as origin so that the receiver can reply to it. With `avoid_self` a node other than
    /// this one is preferred while one is reachable. Errors reach the client as error frames.
    void forward(std::string_view group, std::uint32_t msg_id, Bytes payload,
                 bool avoid_self = false) {
        do_forward(group, msg_id, payload, avoid_self);
    }
    /// Passes the request on to one node.
    void forward_to(std::uint32_t node_id, std::uint32_t msg_id, Bytes payload) {
        do_forward_to(node_id, msg_id, payload);
    }
    /// A live node of `group` for this client, preferring one other than this node when
    /// `avoid_self`; nullopt when the group is unknown or none of its nodes is reachable.
    virtual std::optional<std::uint32_t> pick_node(std::string_view group,
                                                   bool avoid_self) const = 0;
    /// The client's session: uid and values. Changes reach its gate before this request's
    /// answer and are seen by the client's next request on every group.
    virtual Session& session() = 0;
    /// Binds a uid to the client's session; applied on its gate before any later message of the
    /// client is handled. Another session of the same uid is then closed (login_policy
    /// "kick_older"), or, with "refuse_newer", this bind is refused: the request is answered
    /// with an `already_logged_in` error frame and bind() returns false. Throws
    /// std::length_error above max_uid_size bytes.
    bool bind(std::string uid) { return do_bind(std::move(uid)); }
    /// Unbinds the uid (the session leaves its rooms).
    void unbind() { do_bind({}); }

    /// True when `uid` is bound on some gate (as this node's directory knows it).
    virtual bool online(std::string_view uid) const = 0;
    /// Sends a frame to the player `uid` wherever it is connected; false when it is not online.
    bool push(std::string_view uid, std::uint32_t msg_id, Bytes payload) {
        return do_push({std::string(uid)}, msg_id, payload).empty();
    }
    /// push() with text.
    bool push(std::string_view uid, std::uint32_t msg_id, std::string_view text) {
        return push(uid, msg_id, as_bytes(text));
    }
    /// Sends a frame to each of `uids`, one envelope per gate; returns the uids not online.
    std::vector<std::string> push(const std::vector<std::string>& uids, std::uint32_t msg_id,
                                  Bytes payload) {
        return do_push(uids, msg_id, payload);
    }
    /// Closes the session of `uid` wherever it is, after a frame (kick_msg_id, JSON with code
    /// "kicked" and `reason`) it receives first; false when it is not online.
    bool kick(std::string_view uid, std::string_view reason) { return do_kick(uid, reason); }

    /// Puts the client (which must have a uid) in `room`; false when it has none or is in
    /// max_session_rooms rooms already.
    bool join(std::string_view room) { return do_join(room, {}); }
    /// Puts the online player `uid` in `room`; false when it is not online.
    bool join(std::string_view room, std::string_view uid) { return do_join(room, uid); }
    /// Takes the client out of `room`.
    bool leave(std::string_view room) { return do_leave(room, {}); }
    /// Takes the player `uid` out of `room`.
    bool leave(std::string_view room, std::string_view uid) { return do_leave(room, uid); }
    /// The uids in `room`, sorted.
    virtual std::vector<std::string> members(std::string_view room) const = 0;
    /// The number of uids in `room`.
    virtual std::size_t room_size(std::string_view room) const = 0;
    /// Sends a frame to every member of `room` but `except_uid`: one envelope per gate, with
    /// the members there. Returns how many members it was sent to.
    std::size_t send_to_room(std::string_view room, std::uint32_t msg_id, Bytes payload,
                             std::string_view except_uid = {}) {
        return do_send_to_room(room, msg_id, payload, except_uid);
    }
    /// send_to_room() with text.
    std::size_t send_to_room(std::string_view room, std::uint32_t msg_id, std::string_view text,
                             std::string_view except_uid = {}) {
        return do_send_to_room(room, msg_id, as_bytes(text), except_uid);
    }

    /// Sends the client an error frame about this message instead of a reply.
    void fail(Error code, std::string_view message) { do_fail(to_string(code), message); }
    /// fail() with a code of the application's own (its clients must know it).
    void fail(std::string_view app_code, std::string_view message) { do_fail(app_code, message); }

    /// Calls `method` on `target` (co_await it): the reply payload, or a CallFailure saying why
    /// there is none. It waits at most `timeout` (0: [cluster] call_timeout_ms) and never past
    /// this message's own deadline (remaining()). The payload is copied at once.
    Task<CallReply> call(CallTarget target, MethodRef method, Bytes payload,
                         std::chrono::milliseconds timeout = {}) {
        return do_call(std::move(target), method.id(), std::string(as_text(payload)), timeout);
    }
    /// call() with text.
    Task<CallReply> call(CallTarget target, MethodRef method, std::string_view text,
                         std::chrono::milliseconds timeout = {}) {
        return do_call(std::move(target), method.id(), std::string(text), timeout);
    }
    /// Calls `method` on every node of `group` at once (co_await it): one NodeReply per node of
    /// the group, in dinx.toml order, each a reply or a failure. Empty when there is no such
    /// group.
    Task<std::vector<NodeReply>> call_all(std::string_view group, MethodRef method,
                                          std::string_view payload,
                                          std::chrono::milliseconds timeout = {}) {
        return do_call_all(std::string(group), method.id(), std::string(payload), timeout);
    }
    /// Sends `method` to `target` and waits for nothing: no reply, no error, delivered at most
    /// once. False when no node could be chosen (unknown, down or leaving).
    bool notify(const CallTarget& target, MethodRef method, std::string_view payload) {
        return do_notify(target, method.id(), as_bytes(payload));
    }
    /// Resumes the awaiting coroutine after `delay`, on this node's thread (co_await it).
    Task<void> sleep(std::chrono::milliseconds delay) { return do_sleep(delay); }
    /// Runs `work` on a worker thread and resumes on this node's thread with its result or
    /// what it threw (co_await it): for work that blocks, such as a database query. `work` must
    /// not touch the node's state; copy what it needs into it.
    template <class Work>
    Task<std::invoke_result_t<Work&>> blocking(Work work) {
        // Not a coroutine itself: g++ 12 destroys a lambda passed by value to a coroutine from
        // inside a co_await expression twice, so `work` becomes a std::function here first.
        using Result = std::invoke_result_t<Work&>;
        if constexpr (std::is_void_v<Result>) {
            return do_blocking(std::function<void()>(std::move(work)));
        } else {
            auto result = std::make_shared<std::optional<Result>>();
            auto done = do_blocking(
                [result, work = std::move(work)]() mutable { result->emplace(work()); });
            return detail::take_result(std::move(done), std::move(result));
        }
    }
    /// Time left before this message's deadline: a called method's share of its caller's
    /// deadline, or call_timeout_ms from the arrival of a client's message. Calls made from
    /// here never wait longer.
    virtual std::chrono::milliseconds remaining() const = 0;

protected:
    Context() = default;

private:
    virtual void do_reply(std::uint32_t msg_id, Bytes payload) = 0;
    virtual void do_send_to(std::uint32_t gate_id, std::uint64_t conn_id, std::uint32_t msg_id,
                            Bytes payload) = 0;
    virtual void do_broadcast(std::uint32_t msg_id, Bytes payload) = 0;
    virtual void do_forward(std::string_view group, std::uint32_t msg_id, Bytes payload,
                            bool avoid_self) = 0;
    virtual void do_forward_to(std::uint32_t node_id, std::uint32_t msg_id, Bytes payload) = 0;
    virtual bool do_bind(std::string uid) = 0;
    virtual std::vector<std::string> do_push(const std::vector<std::string>& uids,
                                             std::uint32_t msg_id, Bytes payload) = 0;
    virtual bool do_kick(std::string_view uid, std::string_view reason) = 0;
    virtual bool do_join(std::string_view room, std::string_view uid) = 0;
    virtual bool do_leave(std::string_view room, std::string_view uid) = 0;
    virtual std::size_t do_send_to_room(std::string_view room, std::uint32_t msg_id, Bytes payload,
                                        std::string_view except_uid) = 0;
    virtual void do_fail(std::string_view code, std::string_view message) = 0;
    virtual Task<CallReply> do_call(CallTarget target, MethodId method, std::string payload,
                                    std::chrono::milliseconds timeout) = 0;
    virtual Task<std::vector<NodeReply>> do_call_all(std::string group, MethodId method,
                                                     std::string payload,
                                                     std::chrono::milliseconds timeout) = 0;
    virtual bool do_notify(const CallTarget& target, MethodId method, Bytes payload) = 0;
    virtual Task<void> do_sleep(std::chrono::milliseconds delay) = 0;
    virtual Task<void> do_blocking(std::function<void()> work) = 0;
};

}  // namespace dinx::cluster
