#pragma once
// A Context that records what a handler does, so a game's handlers can be unit-tested without
// sockets, nodes or a config file:
//
//   dinx::testing::FakeContext ctx(3);                       // msgID 3 from a fresh client
//   ctx.run(my_handler, "hello");
//   CHECK(ctx.replies.at(0).payload == "gate-1: hello");

#include "cluster/dinx.hpp"

#include <map>
#include <string>
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

/// Records replies, pushes, broadcasts, forwards, binds and failures instead of sending them.
class FakeContext final : public Context {
public:
    /// A message `msg_id` from `client`, handled on node `node_id` of `config`; by default a
    /// one-gate cluster (gate-1, id 1) and a client with connection id 1 on it.
    explicit FakeContext(std::uint32_t msg_id, Origin client = {1, 1, {}},
                         dict::Config config = one_gate(), std::uint32_t node_id = 1);

    /// A cluster of one frontend: gate-1, id 1, group gate.
    static dict::Config one_gate();

    /// Runs `handler` on this context with `payload` (as text), as a node would.
    void run(const Handler& handler, std::string_view payload);
    /// Makes forwarded_by() name `node_id` (a node of the config).
    void set_forwarded_by(std::uint32_t node_id) { forwarded_by_ = node_id; }
    /// What pick_node() answers for `group` (by default its first node, or nullopt).
    void set_pick(std::string group, std::optional<std::uint32_t> node) {
        picks_[std::move(group)] = node;
    }

    std::vector<SentFrame> replies;     ///< reply() calls, in order
    std::vector<Push> pushes;           ///< send_to() calls
    std::vector<SentFrame> broadcasts;  ///< broadcast() calls
    std::vector<Forward> forwards;      ///< forward() and forward_to() calls
    std::vector<std::string> binds;     ///< bind() and unbind() (as "") calls
    std::vector<Failure> failures;      ///< fail() calls

    const dict::NodeInfo& node() const override;
    const dict::Config& config() const override { return config_; }
    std::uint32_t msg_id() const override { return msg_id_; }
    const Origin& client() const override { return client_; }
    const dict::NodeInfo* forwarded_by() const override;
    bool answered() const override { return !replies.empty() || !failures.empty(); }
    std::optional<std::uint32_t> pick_node(std::string_view group, bool avoid_self) const override;

private:
    void do_reply(std::uint32_t msg_id, Bytes payload) override;
    void do_send_to(std::uint32_t gate_id, std::uint64_t conn_id, std::uint32_t msg_id,
                    Bytes payload) override;
    void do_broadcast(std::uint32_t msg_id, Bytes payload) override;
    void do_forward(std::string_view group, std::uint32_t msg_id, Bytes payload,
                    bool avoid_self) override;
    void do_forward_to(std::uint32_t node_id, std::uint32_t msg_id, Bytes payload) override;
    void do_bind(std::string uid) override;
    void do_fail(std::string_view code, std::string_view message) override;

    std::uint32_t msg_id_;
    Origin client_;
    dict::Config config_;
    std::uint32_t node_id_;
    std::uint32_t forwarded_by_ = 0;
    std::map<std::string, std::optional<std::uint32_t>, std::less<>> picks_;
};

}  // namespace dinx::testing
