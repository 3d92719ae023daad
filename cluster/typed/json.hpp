#pragma once
// Typed JSON messages for handlers (optional: needs nlohmann-json, Debian's nlohmann-json3-dev).
// Payloads stay bytes on the wire; json_handler turns a function of a typed request into a
// Handler that decodes the payload, runs it, and replies with its result encoded:
//
//   struct Greet { std::string name; };
//   struct Greeting { std::string text; int visits = 0; };
//   NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Greet, name)
//   NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Greeting, text, visits)
//
//   app.handle(20, dinx::cluster::json_handler<Greet>([](Context& ctx, const Greet& in) {
//       return Greeting{"hello " + in.name, 1};
//   }));
//
// A payload that is not JSON, or not of the request's shape, gets a `bad_request` error frame
// and the function does not run. A function that answered itself (ctx.fail, ctx.reply) has its
// result dropped: one answer per request. One returning void replies nothing.
//
// Calls between services decode their replies with decode_json_reply:
//
//   auto greeting = decode_json_reply<Greeting>(reply);  // reply: a CallReply
//   if (!greeting) log(greeting.error().code);           // the call's failure, or "bad_reply"

#include "cluster/api/call.hpp"
#include "cluster/api/context.hpp"
#include "cluster/api/handler.hpp"
#include "cluster/typed/typed_handler.hpp"

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace dinx::cluster {

/// Longest part of a decoder's complaint quoted in a bad_request frame.
inline constexpr std::size_t max_json_error_quote = 200;

namespace detail {

/// `text` decoded as a T, or nullopt with the decoder's complaint (at most
/// max_json_error_quote bytes of it) in `why`.
template <class T>
std::optional<T> parse_json(std::string_view text, std::string& why) {
    try {
        return nlohmann::json::parse(text.begin(), text.end()).template get<T>();
    } catch (const nlohmann::json::exception& error) {
        why = error.what();
        if (why.size() > max_json_error_quote) why.resize(max_json_error_quote);
        return std::nullopt;
    }
}

}  // namespace detail

/// `payload` decoded as a Request, or nullopt after a bad_request error frame on `ctx`.
template <class Request>
std::optional<Request> decode_json(Context& ctx, Bytes payload) {
    std::string why;
    auto request = detail::parse_json<Request>(as_text(payload), why);
    if (!request)
        ctx.fail(Error::bad_request,
                 "msg_id " + std::to_string(ctx.msg_id()) +
                     ": the payload is not the JSON this handler takes: " + why);
    return request;
}

/// `value` encoded as a JSON payload (for replies and pushes).
template <class Value>
std::string to_json_payload(const Value& value) {
    return nlohmann::json(value).dump();
}

/// A Handler that decodes a Request from JSON, runs `function(ctx, request)` and, unless it
/// returned void or answered by itself, replies with its result as JSON under the same msgID.
template <class Request, class Function>
Handler json_handler(Function function) {
    return detail::typed_handler<Request>(
        [](Context& ctx, Bytes payload) { return decode_json<Request>(ctx, payload); },
        [](const auto& reply) { return to_json_payload(reply); }, std::move(function));
}

/// A call's reply decoded as a Reply. A failure passes through unchanged; a payload that is not
/// JSON of the Reply's shape becomes an `application` failure with code "bad_reply": the callee
/// ran but answered something this caller cannot read, so retrying elsewhere would not help.
template <class Reply>
Result<Reply> decode_json_reply(const CallReply& reply) {
    if (!reply) return reply.error();
    std::string why;
    if (auto decoded = detail::parse_json<Reply>(*reply, why)) return std::move(*decoded);
    return CallFailure{CallError::application, "bad_reply",
                       "the reply is not the JSON this call expects: " + why};
}

/// A Method that decodes a Request from the call's JSON payload and returns `function(ctx,
/// request)` (a Reply, or a Result<Reply> to fail) encoded as JSON. A payload that does not
/// decode fails the call with an `application` failure, code "bad_request", and the function
/// does not run.
template <class Request, class Function>
Method json_method(Function function) {
    return detail::typed_method<Request>(
        [](Bytes payload) -> Result<Request> {
            std::string why;
            if (auto request = detail::parse_json<Request>(as_text(payload), why))
                return std::move(*request);
            return CallFailure{CallError::application, "bad_request",
                               "the payload is not the JSON this method takes: " + why};
        },
        [](const auto& reply) { return to_json_payload(reply); }, std::move(function));
}

}  // namespace dinx::cluster
