#pragma once
// How a call and its outcome travel in envelopes (EnvelopeKind::call and call_reply): the
// deadline a call carries and the failure a call_reply carries. The caller's deadline travels
// twice: as a budget in ms (the callee counts it from the arrival) and as a wall-clock instant,
// so a call that sat in a stopped callee's socket is not started after its caller gave up. The
// callee uses the earlier of the two, so a clock that runs behind never lengthens a call.

#include "cluster/api/call.hpp"
#include "node/bytes.hpp"

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace dinx::cluster {

/// Size of the deadline a call envelope carries in its `values`.
inline constexpr std::size_t call_deadline_size = 8;

/// A call's deadline as its envelope carries it: milliseconds since the Unix epoch, little-endian.
std::array<std::byte, call_deadline_size> encode_call_deadline(
    std::chrono::system_clock::time_point deadline);
/// The deadline of a call envelope; nullopt when `values` is not one.
std::optional<std::chrono::system_clock::time_point> decode_call_deadline(Bytes values);

/// The status a call_reply envelope carries for `reply` (its msg_id).
std::uint32_t call_reply_status(const CallReply& reply);
/// The payload a call_reply envelope carries for a failure: its code's length, code, message.
std::string encode_call_failure(const CallFailure& failure);
/// The outcome a call_reply envelope carries; a malformed one becomes an `application` failure
/// with code "bad_reply".
CallReply decode_call_reply(std::uint32_t status, Bytes payload);

}  // namespace dinx::cluster
