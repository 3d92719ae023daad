#pragma once
// A Context that records what a handler does, so a game's handlers can be unit-tested without
// sockets, nodes or a config file:
//
//   dinx::testing::FakeContext ctx(3);                       // msgID 3 from a fresh client
//   ctx.run(my_handler, "hello");
//   CHECK(ctx.replies.at(0).payload == "gate-1: hello");

#include "cluster/dinx.hpp"

#include <map>
#include <set>
#include <string>
#include <type_traits>
#include <vector>

namespace dinx::testing {

/// A frame a handler sent: its msgID and payload.
struct SentFrame {
    std::uint32_t msg_id = 0;
    std::string payload;
};

/// A frame sent to a client named by gate and connection.
struct Push {
    std::uint32_t gate_id = 0;
    std::uint64_t conn_id = 0;
    SentFrame frame;
};

/// A request passed on: to a group (node_id 0) or to one node (group empty).
struct Forward {
    std::string group;
    std::uint32_t node_id = 0;
    bool avoid_self = false;
    SentFrame frame;
};

/// An error frame a handler asked for.
struct Failure {
    std::string code;
    std::string message;
};

/// A frame sent to a player by uid.
struct UidPush {
    std::string uid;
    SentFrame frame;
};

/// A kick by uid.
struct Kick {
    std::string uid;
    std::string reason;
};

/// A frame sent to a room.
struct RoomFrame {
    std::string room;
    std::string except_uid;
    SentFrame frame;
};

/// A call or notify a handler made.
struct MadeCall {
    cluster::CallTarget target;         ///< where (for call_all: the group, node_id 0)
    cluster::MethodId method = 0;       ///< which method
    std::string payload;                ///< with what
    std::chrono::milliseconds timeout;  ///< the timeout it gave (0: the default)
    bool notify = false;                ///< true for notify(): no reply awaited
};

/// Records replies, pushes, broadcasts, forwards, binds and failures instead of sending them.
/// Its little world of players is `online_uids` and `rooms`: push, kick, join and members use them.
class FakeContext final : public Context {
public:
    /// A message `msg_id` from `client`, handled on node `node_id` of `config`; by default a
    /// one-gate cluster (gate-1, id 1) and a client with connection id 1 on it.
    explicit FakeContext(std::uint32_t msg_id, Origin client = {1, 1, {}},
                         dict::Config config = one_gate(), std::uint32_t node_id = 1);

    /// A cluster of one frontend: gate-1, id 1, group gate.
    static dict::Config one_gate();

    /// Runs `handler` (a Handler, a CoroutineHandler or a Method) on this context with `payload`
    /// (as text), as a node would, to its end: the fake's calls, sleeps and blocking work
    /// complete at once. A method's reply or failure is returned.
    template <class Function>
    decltype(auto) run(const Function& handler, std::string_view payload) {
        using Returned = std::invoke_result_t<const Function&, Context&, Bytes>;
        if constexpr (std::is_same_v<Returned, Task<void>>)
            run_coroutine(handler, payload);
        else if constexpr (std::is_same_v<Returned, Task<CallReply>>)
            return run_method(handler, payload);
        else
            run_plain(handler, payload);
    }
    /// Runs a plain handler.
    void run_plain(const Handler& handler, std::string_view payload);
    /// Runs a coroutine handler to its end; rethrows what it threw.
    void run_coroutine(const CoroutineHandler& handler, std::string_view payload);
    /// Runs a method to its end and returns its reply or failure.
    CallReply run_method(const Method& method, std::string_view payload);
    /// What a call of `method` (to any target) returns from now on; by default a `no_node`
    /// failure. Each reply of the list is used once, in order; the last one stays.
    void on_call(cluster::MethodRef method, std::vector<CallReply> replies) {
        call_replies_[method.id()] = std::move(replies);
    }
    /// The nodes call_all() reaches for `group` (by default the group's nodes in the config).
    void set_group_nodes(std::string group, std::vector<std::uint32_t> nodes) {
        group_nodes_[std::move(group)] = std::move(nodes);
    }
    /// What remaining() answers.
    void set_remaining(std::chrono::milliseconds left) { remaining_ = left; }
    /// Makes forwarded_by() name `node_id` (a node of the config).
    void set_forwarded_by(std::uint32_t node_id) { forwarded_by_ = node_id; }
    /// What pick_node() answers for `group` (by default its first node, or nullopt).
    void set_pick(std::string group, std::optional<std::uint32_t> node) {
        picks_[std::move(group)] = node;
    }

    std::vector<SentFrame> replies;                  ///< reply() calls, in order
    std::vector<Push> pushes;                        ///< send_to() calls
    std::vector<SentFrame> broadcasts;               ///< broadcast() calls
    std::vector<Forward> forwards;                   ///< forward() and forward_to() calls
    std::vector<std::string> binds;                  ///< bind() and unbind() (as "") calls
    std::vector<Failure> failures;                   ///< fail() calls
    std::vector<UidPush> uid_pushes;                 ///< push() calls, one per uid that was online
    std::vector<Kick> kicks;                         ///< kick() calls of online uids
    std::vector<RoomFrame> room_frames;              ///< send_to_room() calls
    std::vector<MadeCall> calls;                     ///< call(), call_all() and notify() calls
    std::vector<std::chrono::milliseconds> sleeps;   ///< sleep() calls (they end at once)
    std::size_t blocking_runs = 0;                   ///< blocking() calls (run inline)
    std::set<std::string, std::less<>> online_uids;  ///< uids online (the client's own once bound)
    std::map<std::string, std::set<std::string>, std::less<>> rooms;  ///< room -> uids

    /// Gives the client's session a value before the handler runs (recorded as no change).
    void preset_value(std::string_view key, std::string_view value) {
        session_.set(key, value);
        session_.take_changes();
    }

    const dict::NodeInfo& node() const override;
    const dict::Config& config() const override { return config_; }
    std::uint32_t msg_id() const override { return msg_id_; }
    const Origin& client() const override { return client_; }
    const dict::NodeInfo* forwarded_by() const override;
    bool answered() const override { return !replies.empty() || !failures.empty(); }
    std::optional<std::uint32_t> pick_node(std::string_view group, bool avoid_self) const override;
    Session& session() override { return session_; }
    bool online_uid(std::string_view uid) const { return online_uids.contains(uid); }
    bool online(std::string_view uid) const override { return online_uid(uid); }
    std::vector<std::string> members(std::string_view room) const override;
    std::size_t room_size(std::string_view room) const override;
    std::chrono::milliseconds remaining() const override { return remaining_; }

private:
    void do_reply(std::uint32_t msg_id, Bytes payload) override;
    void do_send_to(std::uint32_t gate_id, std::uint64_t conn_id, std::uint32_t msg_id,
                    Bytes payload) override;
    void do_broadcast(std::uint32_t msg_id, Bytes payload) override;
    void do_forward(std::string_view group, std::uint32_t msg_id, Bytes payload,
                    bool avoid_self) override;
    void do_forward_to(std::uint32_t node_id, std::uint32_t msg_id, Bytes payload) override;
    bool do_bind(std::string uid) override;
    std::vector<std::string> do_push(const std::vector<std::string>& uids, std::uint32_t msg_id,
                                     Bytes payload) override;
    bool do_kick(std::string_view uid, std::string_view reason) override;
    bool do_join(std::string_view room, std::string_view uid) override;
    bool do_leave(std::string_view room, std::string_view uid) override;
    std::size_t do_send_to_room(std::string_view room, std::uint32_t msg_id, Bytes payload,
                                std::string_view except_uid) override;
    void do_fail(std::string_view code, std::string_view message) override;
    Task<CallReply> do_call(cluster::CallTarget target, cluster::MethodId method,
                            std::string payload, std::chrono::milliseconds timeout) override;
    Task<std::vector<cluster::NodeReply>> do_call_all(std::string group, cluster::MethodId method,
                                                      std::string payload,
                                                      std::chrono::milliseconds timeout) override;
    bool do_notify(const cluster::CallTarget& target, cluster::MethodId method,
                   Bytes payload) override;
    Task<void> do_sleep(std::chrono::milliseconds delay) override;
    Task<void> do_blocking(std::function<void()> work) override;
    /// The next scripted reply of `method`.
    CallReply next_reply(cluster::MethodId method);

    std::uint32_t msg_id_;
    Origin client_;
    Session session_{client_, {}};
    dict::Config config_;
    std::uint32_t node_id_;
    std::uint32_t forwarded_by_ = 0;
    std::map<std::string, std::optional<std::uint32_t>, std::less<>> picks_;
    std::map<cluster::MethodId, std::vector<CallReply>> call_replies_;
    std::map<std::string, std::vector<std::uint32_t>, std::less<>> group_nodes_;
    std::chrono::milliseconds remaining_{3000};
};

}  // namespace dinx::testing
