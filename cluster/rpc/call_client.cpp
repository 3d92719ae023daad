#include "cluster/rpc/call_client.hpp"

#include "cluster/rpc/call_wire.hpp"

#include <asio/post.hpp>

namespace dinx::cluster {
namespace {

// The budget a call carries: whole milliseconds left, rounded up so that a call with a little
// time left is not refused as expired by the callee.
std::uint32_t budget_ms(CallClient::Clock::time_point deadline, CallClient::Clock::time_point now) {
    auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - now).count();
    if (left <= 0) return 0;
    return left > 0xffff'ffffLL ? 0xffff'ffffu : static_cast<std::uint32_t>(left);
}

std::chrono::system_clock::time_point wall_deadline(CallClient::Clock::time_point deadline) {
    return std::chrono::system_clock::now() +
           std::chrono::duration_cast<std::chrono::system_clock::duration>(
               deadline - CallClient::Clock::now());
}

}  // namespace

CallClient::CallClient(ShardContext& context, LinkTable& links)
    : context_(context), links_(links), timer_(context.io) {}

std::optional<CallFailure> CallClient::refusal(std::uint32_t node_id) {
    auto name = context_.node_name(node_id);
    if (!links_.is_live(node_id))
        return call_failure(CallError::unavailable,
                            "node " + name + " is down or leaving; the call was not sent");
    if (links_.is_overloaded(node_id))
        return call_failure(CallError::overloaded,
                            "the link to node " + name + " has too much unsent; not sent");
    auto link = links_.ready_link(node_id);
    if (link && link->version() < first_call_protocol_version) {
        bool peer_older = link->peer_version() == link->version();
        return call_failure(CallError::unavailable,
                            (peer_older ? "node " + name : std::string("this node")) +
                                " speaks link protocol " + std::to_string(link->version()) +
                                ", which has no calls");
    }
    return std::nullopt;
}

Envelope CallClient::make_envelope(std::uint64_t id, const OutgoingCall& call,
                                   std::array<std::byte, 8>& deadline_bytes) const {
    deadline_bytes = encode_call_deadline(wall_deadline(call.deadline));
    return Envelope{EnvelopeKind::call,
                    id,
                    call.origin,
                    call.method,
                    budget_ms(call.deadline, Clock::now()),
                    call.payload,
                    Bytes(deadline_bytes.data(), deadline_bytes.size())};
}

void CallClient::start(std::uint32_t node_id, const OutgoingCall& call, Done done) {
    if (budget_ms(call.deadline, Clock::now()) == 0) {
        done(call_failure(CallError::deadline_exceeded,
                          "the deadline passed before the call was sent"));
        return;
    }
    if (node_id == context_.node_id()) {
        start_local(call, std::move(done));
        return;
    }
    if (auto refused = refusal(node_id)) {
        done(std::move(*refused));
        return;
    }
    auto id = table_.add(node_id, call.deadline, std::move(done));
    std::array<std::byte, 8> deadline_bytes{};
    try {
        links_.send(node_id, make_envelope(id, call, deadline_bytes));
    } catch (const std::length_error& error) {  // a payload over the link's limit
        table_.complete(id, call_failure(CallError::unavailable, error.what()));
        return;
    }
    arm();
}

void CallClient::start_local(const OutgoingCall& call, Done done) {
    auto id = table_.add(context_.node_id(), call.deadline, std::move(done));
    arm();
    // Posted: the method runs after the caller suspended, as it would for a remote call.
    asio::post(context_.io, [this, id, method = call.method, origin = call.origin,
                             payload = std::string(as_text(call.payload)),
                             deadline = call.deadline]() mutable {
        serve_local_(method, origin, std::move(payload), deadline,
                     [this, id](CallReply reply) { table_.complete(id, std::move(reply)); });
    });
}

bool CallClient::notify(std::uint32_t node_id, const OutgoingCall& call) {
    if (node_id == context_.node_id()) {
        asio::post(context_.io, [this, method = call.method, origin = call.origin,
                                 payload = std::string(as_text(call.payload)),
                                 deadline = call.deadline]() mutable {
            serve_local_(method, origin, std::move(payload), deadline, [](CallReply) {});
        });
        return true;
    }
    if (refusal(node_id)) return false;
    std::array<std::byte, 8> deadline_bytes{};
    links_.send(node_id, make_envelope(0, call, deadline_bytes));
    return true;
}

void CallClient::on_reply(const Envelope& reply) {
    table_.complete(reply.seq, decode_call_reply(reply.msg_id, reply.payload));
    arm();
}

void CallClient::on_node_lost(std::uint32_t node_id, bool maybe_ran, const std::string& why) {
    auto ids = table_.ids_of(node_id);
    if (ids.empty()) return;
    auto failure =
        maybe_ran ? call_failure(CallError::deadline_exceeded,
                                 "node " + context_.node_name(node_id) +
                                     " was lost during the call (" + why + "); it may have run")
                  : call_failure(CallError::unavailable, "node " + context_.node_name(node_id) +
                                                             " cannot be reached (" + why +
                                                             "); not sent");
    // Only the calls in flight now: a call made after this, on a new link, is not failed.
    asio::post(context_.io, [this, ids = std::move(ids), failure = std::move(failure)] {
        for (auto id : ids) table_.complete(id, failure);
        arm();
    });
}

void CallClient::cancel_all() {
    timer_.cancel();
    table_.fail_all(call_failure(CallError::cancelled, "the calling node is stopping"));
}

void CallClient::arm() {
    auto next = table_.next_deadline();
    if (!next) {
        if (armed_for_) timer_.cancel();
        armed_for_.reset();
        return;
    }
    if (armed_for_ == next) return;
    armed_for_ = next;
    timer_.expires_at(*next);
    timer_.async_wait([this](std::error_code error) {
        if (error) return;  // re-armed or cancelled (the client may be gone)
        armed_for_.reset();
        table_.expire(Clock::now());
        arm();
    });
}

}  // namespace dinx::cluster
