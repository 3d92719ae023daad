#pragma once
// The calls one shard makes to methods of other nodes (or of its own): it sends each in a call
// envelope, keeps it in a CallTable, and ends it exactly once: by its reply, at once when its node
// is known down, unknown, leaving or swamped (it surely did not run), when the link it went on
// drops (it may have run), at its deadline, or when the shard stops.

#include "cluster/api/call.hpp"
#include "cluster/link/envelope.hpp"
#include "cluster/link/link_table.hpp"
#include "cluster/rpc/call_table.hpp"
#include "cluster/runtime/shard_context.hpp"

#include <asio/steady_timer.hpp>

#include <chrono>
#include <functional>
#include <optional>
#include <string>

namespace dinx::cluster {

/// What a call is: its method, the client it is made for, its payload and its deadline.
struct OutgoingCall {
    MethodId method = 0;                             ///< the method to run
    Origin origin;                                   ///< the client it is made for (may be none)
    Bytes payload;                                   ///< its argument (copied when sent)
    std::chrono::steady_clock::time_point deadline;  ///< when the caller gives up
};

/// The calls of one shard. Used on its thread only.
class CallClient {
public:
    using Clock = std::chrono::steady_clock;
    /// What runs with a call's outcome, once.
    using Done = CallTable::Done;
    /// Runs a call of this node to itself (no link): `reply` must be called once with its outcome.
    using ServeLocal =
        std::function<void(MethodId method, const Origin& origin, std::string payload,
                           Clock::time_point deadline, std::function<void(CallReply)> reply)>;

    /// Calls of the shard `context` describes, sent over `links`.
    CallClient(ShardContext& context, LinkTable& links);
    CallClient(const CallClient&) = delete;
    CallClient& operator=(const CallClient&) = delete;

    /// How calls to this node itself are served.
    void serve_local_with(ServeLocal serve) { serve_local_ = std::move(serve); }
    /// Starts `call` to node `node_id`. `done` runs exactly once: inside start() when the call
    /// fails at once, else later on this thread.
    void start(std::uint32_t node_id, const OutgoingCall& call, Done done);
    /// Sends `call` to `node_id` with no reply expected; false when the node is known not to take
    /// it now (down, leaving, swamped, too old).
    bool notify(std::uint32_t node_id, const OutgoingCall& call);
    /// A call_reply envelope arrived.
    void on_reply(const Envelope& reply);
    /// Node `node_id` cannot be reached, or its link dropped: its calls end (posted, so not
    /// inside the link's close). `maybe_ran`: they went out on a link, so they may have run.
    void on_node_lost(std::uint32_t node_id, bool maybe_ran, const std::string& why);
    /// Every call ends with `cancelled` (the shard stops).
    void cancel_all();
    /// Calls in flight.
    std::size_t in_flight() const { return table_.size(); }
    /// A new key each time, for calls that need no stickiness: they spread over a group.
    std::uint64_t next_spread() { return ++spread_ * 0x9e3779b97f4a7c15ULL; }

private:
    /// Why a call to `node_id` cannot go now, or nullopt when it can.
    std::optional<CallFailure> refusal(std::uint32_t node_id);
    /// The call envelope of `call` (its deadline encoded into `deadline_bytes`).
    Envelope make_envelope(std::uint64_t id, const OutgoingCall& call,
                           std::array<std::byte, 8>& deadline_bytes) const;
    void start_local(const OutgoingCall& call, Done done);
    /// Sets the timer to the earliest deadline in flight.
    void arm();

    ShardContext& context_;
    LinkTable& links_;
    ServeLocal serve_local_;
    CallTable table_;
    asio::steady_timer timer_;
    std::optional<Clock::time_point> armed_for_;
    std::uint64_t spread_ = 0;
};

}  // namespace dinx::cluster
