#include "cluster/rpc/call_wire.hpp"

namespace dinx::cluster {
namespace {

constexpr std::uint32_t status_ok = 0;
// Statuses above the last CallError are not ours: a newer peer's, or a broken one.
constexpr auto last_error = static_cast<std::uint32_t>(CallError::cancelled);

}  // namespace

std::array<std::byte, call_deadline_size> encode_call_deadline(
    std::chrono::system_clock::time_point deadline) {
    auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline.time_since_epoch()).count();
    auto bits = static_cast<std::uint64_t>(ms);
    std::array<std::byte, call_deadline_size> out{};
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = std::byte((bits >> (8 * i)) & 0xff);
    return out;
}

std::optional<std::chrono::system_clock::time_point> decode_call_deadline(Bytes values) {
    if (values.size() != call_deadline_size) return std::nullopt;
    std::uint64_t bits = 0;
    for (std::size_t i = 0; i < call_deadline_size; ++i)
        bits |= std::uint64_t(std::to_integer<std::uint8_t>(values[i])) << (8 * i);
    return std::chrono::system_clock::time_point(
        std::chrono::milliseconds(static_cast<std::int64_t>(bits)));
}

std::uint32_t call_reply_status(const CallReply& reply) {
    if (reply) return status_ok;
    return 1 + static_cast<std::uint32_t>(reply.error().error);
}

std::string encode_call_failure(const CallFailure& failure) {
    std::string code = failure.code.substr(0, 255);
    std::string out(1, static_cast<char>(code.size()));
    return out + code + failure.message;
}

CallReply decode_call_reply(std::uint32_t status, Bytes payload) {
    if (status == status_ok) return CallReply(std::string(as_text(payload)));
    auto text = as_text(payload);
    if (status - 1 > last_error || text.empty())
        return CallFailure{CallError::application, "bad_reply",
                           "the callee sent a call reply this node cannot read"};
    auto code_size = static_cast<std::uint8_t>(text[0]);
    if (text.size() < 1u + code_size)
        return CallFailure{CallError::application, "bad_reply",
                           "the callee sent a truncated call failure"};
    return CallFailure{CallError(status - 1), std::string(text.substr(1, code_size)),
                       std::string(text.substr(1 + code_size))};
}

}  // namespace dinx::cluster
