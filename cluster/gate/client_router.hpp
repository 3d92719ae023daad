#pragma once
// A gate's client path: a client frame comes in, a heartbeat is echoed, the rest goes through
// the interceptor chain and is then run here (the gate's own group) or sent to its group's
// node, in order with the client's earlier requests to that group (route_pin.hpp). It hears when a
// client's request ended from the request lifecycle, and lets what waited behind it go.

#include "cluster/gate/client_session.hpp"
#include "cluster/gate/client_table.hpp"
#include "cluster/gate/intercepted_frame.hpp"
#include "cluster/link/link_table.hpp"
#include "cluster/rpc/request_lifecycle.hpp"
#include "cluster/runtime/delivery.hpp"
#include "cluster/runtime/shard_context.hpp"

#include <functional>
#include <optional>
#include <vector>

namespace dinx::cluster {

/// The client path of one gate shard. Used on its thread only.
class ClientRouter final : public ClientRequestListener {
public:
    /// Runs the handler of a message of the gate's own group for a client.
    using RunHere = std::function<void(ClientSession&, std::uint32_t msg_id, Bytes payload)>;

    /// The client path of the shard `context` describes; every frame but heartbeats goes
    /// through `interceptors` (which must outlive it) before it is routed.
    ClientRouter(ShardContext& context, ClientTable& clients, LinkTable& links,
                 RequestLifecycle& requests, Delivery& delivery, RunHere run_here,
                 const std::vector<Interceptor>& interceptors);

    /// A frame from `session`.
    void on_frame(ClientSession& session, std::uint32_t msg_id, Bytes payload);
    void on_client_request_finished(const PendingRequest& request) override;

private:
    /// Runs the interceptor chain on a frame; false when it stopped there (and was answered).
    /// Else `msg_id` is what the frame is routed by from now on.
    bool intercept(ClientSession& session, std::uint32_t& msg_id, Bytes payload);
    /// Runs each interceptor in order until one stops the frame.
    Verdict run_chain(InterceptedFrame& frame);
    /// Runs one interceptor; one that throws stops the frame with a handler_error frame
    /// (unless it answered first).
    Verdict run_one(const Interceptor& interceptor, InterceptedFrame& frame);
    /// Routes a client's request, keeping its order with the client's earlier ones. It is
    /// counted in the session's requests in flight until answered.
    void route(ClientSession& session, dict::GroupId group, std::uint32_t msg_id, Bytes payload);
    /// Keeps a request behind the pin's earlier ones; `refusal` is its answer when its turn
    /// comes (overloaded instead when too much is held).
    void hold_in_turn(ClientSession& session, RoutePin& pin, std::uint32_t msg_id, Bytes payload,
                      Refusal refusal);
    /// Points `pin` at a node the balancer picks; false (and an error frame) when none is live.
    bool choose_node(ClientSession& session, RoutePin& pin, std::uint32_t msg_id,
                     std::uint32_t size);
    /// Sends a request to the pin's node, counted in flight on the pin.
    void send_pinned(ClientSession& session, RoutePin& pin, std::uint32_t msg_id, Bytes payload);
    /// Routes or refuses, in order, what a pin held.
    void release_held(ClientSession& session, dict::GroupId group, RoutePin& pin);
    /// Answers a client request with the error frame `refusal` stands for.
    void refuse(ClientSession& session, dict::GroupId group, std::uint32_t msg_id, Refusal refusal,
                std::uint32_t size);
    /// True when requests behind `pin` must wait: its node can take nothing more, or a reload
    /// changed where the client's requests to the group should go.
    bool blocked(ClientSession& session, RoutePin& pin, Refusal refusal);
    /// True when a reload since the pin's node was chosen makes another node the client's
    /// choice (or took the node out of its group).
    bool outdated(ClientSession& session, RoutePin& pin);
    /// The pin of a group `msg_id` was routed to before a reload, while the client's requests
    /// there are not all answered; nullptr when none (always, for a msgID that never moved).
    RoutePin* former_pin(ClientSession& session, std::uint32_t msg_id);
    /// Routes a held request by its msgID's group now: it may have moved while it waited.
    void reroute_held(ClientSession& session, HeldRequest& held);
    /// The client's balancer key.
    std::uint64_t sticky(const ClientSession& session) const;

    ShardContext& context_;
    ClientTable& clients_;
    LinkTable& links_;
    RequestLifecycle& requests_;
    Delivery& delivery_;
    RunHere run_here_;
    const std::vector<Interceptor>& interceptors_;
    std::optional<dict::GroupId> own_group_;  // the gate's group: its routes run here
};

}  // namespace dinx::cluster
