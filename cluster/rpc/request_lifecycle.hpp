#pragma once
// Every request this shard sends, from route to end: which node takes it, sending it (again to
// another node of its group when its node could not be reached), the answers that come back
// for it and where they go (back the way the request came: decisions 17), and its end (its
// reply, `done`, or one error frame). Failures come here, and only here; the client path hears
// of a local client's request ending through its listener, never by being called back while it
// is itself sending.

#include "cluster/link/link.hpp"
#include "cluster/link/link_table.hpp"
#include "cluster/rpc/request_sink.hpp"
#include "cluster/runtime/shard_context.hpp"

#include <atomic>
#include <optional>
#include <vector>

namespace dinx::cluster {

class Delivery;

/// Told when a request of a client of this gate ended (its pin and in-flight count).
class ClientRequestListener {
public:
    virtual ~ClientRequestListener() = default;
    /// `request`, which concerned a client of this gate, is finished.
    virtual void on_client_request_finished(const PendingRequest& request) = 0;
};

/// The requests of one shard. Used on its thread only.
class RequestLifecycle final : public RequestSink {
public:
    /// Requests of the shard `context` describes, sent over `links`; answers for clients of this
    /// node go through `delivery`.
    RequestLifecycle(ShardContext& context, LinkTable& links, Delivery& delivery);

    /// The client path of a gate, told when its clients' requests end (none on a backend).
    void set_listener(ClientRequestListener* listener) { listener_ = listener; }
    /// A live node of `group` for the sticky `key`, avoiding `avoid` unless it is the only one.
    std::optional<std::uint32_t> pick_node(dict::GroupId group, std::uint64_t key,
                                           std::optional<std::uint32_t> avoid);
    /// Sends `request` to the live node of `group` that is sticky for its client.
    void route(dict::GroupId group, Envelope request, PendingRequest pending,
               std::optional<std::uint32_t> avoid = std::nullopt);
    /// Sends `request` to node `node_id`; when `retry_group` is set and the node cannot be
    /// reached, to another node of that group instead.
    void send(std::uint32_t node_id, Envelope request, PendingRequest pending,
              std::optional<dict::GroupId> retry_group = std::nullopt);

    /// An answer (to_client with a seq, or answer) to request `seq` of `link` arrived.
    void on_answer(Link& link, const Envelope& answer, bool finishes);
    /// A session update on behalf of request `seq` of `link` arrived.
    void on_session_answer(Link& link, const Envelope& update);
    /// `done` for request `seq` of `link` arrived.
    void on_done(Link& link, std::uint64_t seq);
    /// An answer dropped: its request was answered already, or its way back is gone.
    void note_late_answer();
    /// Answers dropped so far (read from any thread).
    std::uint64_t late_answers() const { return late_answers_.load(std::memory_order_relaxed); }

    void fail(const PendingRequest& request, Error code, const std::string& why) override;
    void reroute(dict::GroupId group, Envelope request, PendingRequest pending,
                 std::optional<std::uint32_t> avoid) override;

private:
    /// Sends one answer of `request` on toward its client.
    void pass_answer(const PendingRequest& request, std::uint32_t msg_id, Bytes payload,
                     bool finishes);
    /// Tells the link `request` continues that it is finished.
    void finish_upstream(const PendingRequest& request);
    /// The link `request` came on while it is open, else nullptr (the node before us gave up
    /// on it and answered its client itself).
    static std::shared_ptr<Link> open_upstream(const PendingRequest& request);
    /// `request` is over here: its client's pin and count learn it (now, or once the send
    /// that failed it returned).
    void ended(const PendingRequest& request);
    /// Runs what ended while a send was in progress.
    void run_deferred();

    /// Counts a send in progress; the outermost one, when over, runs what ended during it.
    class SendScope {
    public:
        explicit SendScope(RequestLifecycle& owner) : owner_(owner) { ++owner_.sending_; }
        ~SendScope();
        SendScope(const SendScope&) = delete;
        SendScope& operator=(const SendScope&) = delete;

    private:
        RequestLifecycle& owner_;
    };

    ShardContext& context_;
    LinkTable& links_;
    Delivery& delivery_;
    ClientRequestListener* listener_ = nullptr;
    int sending_ = 0;                       // depth of route()/send() in progress
    std::vector<PendingRequest> deferred_;  // ended while sending
    std::atomic<std::uint64_t> late_answers_{0};
};

}  // namespace dinx::cluster
