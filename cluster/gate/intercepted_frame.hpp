#pragma once
// The gate's ClientFrame: what an interceptor sees of a client frame, and where its answers go
// (straight to the session: an interceptor runs on the client's own io thread).

#include "cluster/api/interceptor.hpp"
#include "cluster/gate/client_session.hpp"
#include "cluster/runtime/shard_context.hpp"

#include <cstdint>
#include <optional>
#include <string_view>

namespace dinx::cluster {

/// One client frame on its way through a gate's interceptor chain. Lives for that run only.
class InterceptedFrame final : public ClientFrame {
public:
    using ClientFrame::fail;
    using ClientFrame::reply;

    /// Frame `msg_id` with `payload`, as `session` sent it to the gate of `context`.
    InterceptedFrame(ClientSession& session, ShardContext& context, std::uint32_t msg_id,
                     Bytes payload);

    const Origin& client() const override { return origin_; }
    std::optional<std::string_view> session_value(std::string_view key) const override;
    void reply(std::uint32_t msg_id, Bytes payload) override;
    void fail(std::string_view app_code, std::string_view message) override;
    bool answered() const override { return answered_; }

    /// The msgID the client sent, whatever a rewrite made of it: error frames name it, since
    /// it is what the client knows its request by.
    std::uint32_t sent_msg_id() const { return sent_msg_id_; }

private:
    ClientSession& session_;
    ShardContext& context_;
    Origin origin_;
    std::uint32_t sent_msg_id_;
    bool answered_ = false;
};

}  // namespace dinx::cluster
