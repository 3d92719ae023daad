#include "cluster/gate/intercepted_frame.hpp"

#include "cluster/rpc/error_frame.hpp"

namespace dinx::cluster {

InterceptedFrame::InterceptedFrame(ClientSession& session, ShardContext& context,
                                   std::uint32_t msg_id, Bytes payload)
    : ClientFrame(msg_id, payload),
      session_(session),
      context_(context),
      origin_(session.origin()),
      sent_msg_id_(msg_id) {}

std::optional<std::string_view> InterceptedFrame::session_value(std::string_view) const {
    // session values: see ClientSession::values()
    return std::nullopt;
}

void InterceptedFrame::reply(std::uint32_t msg_id, Bytes payload) {
    session_.send(msg_id, payload);
    answered_ = true;
}

void InterceptedFrame::fail(std::string_view app_code, std::string_view message) {
    auto body = error_payload(sent_msg_id_, app_code, message);
    context_.metrics.count_error(app_code);
    reply(context_.settings().error_msg_id, as_bytes(body));
}

}  // namespace dinx::cluster
