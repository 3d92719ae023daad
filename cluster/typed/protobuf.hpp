#pragma once
// Typed protobuf messages for handlers (optional: needs protobuf, Debian's libprotobuf-dev and
// protobuf-compiler). Payloads stay bytes on the wire; proto_handler turns a function of a typed
// request into a Handler that parses the payload, runs it, and replies with its result serialized:
//
//   // greet.proto: message Greet { string name = 1; }
//   //              message Greeting { string text = 1; int32 visits = 2; }
//   app.handle(20, dinx::cluster::proto_handler<Greet>([](Context& ctx, const Greet& in) {
//       Greeting out;
//       out.set_text("hello " + in.name());
//       out.set_visits(1);
//       return out;
//   }));
//
// A payload that does not parse as the request's message gets a `bad_request` error frame and
// the function does not run. The wire format carries no type name, so bytes of another message
// (or none: the empty payload is a message with every field at its default) may well parse:
// check the fields that matter. A function that answered itself (ctx.fail, ctx.reply) has its
// result dropped: one answer per request. One returning void replies nothing.
//
// Calls between services parse their replies with decode_proto_reply:
//
//   auto greeting = decode_proto_reply<Greeting>(reply);  // reply: a CallReply
//   if (!greeting) log(greeting.error().code);            // the call's failure, or "bad_reply"
//
// Only MessageLite calls are used, so `optimize_for = LITE_RUNTIME` messages should work too
// (the tests use full ones).

#include "cluster/api/call.hpp"
#include "cluster/api/context.hpp"
#include "cluster/api/handler.hpp"
#include "cluster/typed/typed_handler.hpp"

#include <climits>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

namespace dinx::cluster {

namespace detail {

/// The `size` bytes at `data` parsed into `message`; false when they do not parse, or are too
/// many for protobuf, whose parser takes an int size: a size past INT_MAX must not wrap.
template <class Message>
bool parse_proto(Message& message, const void* data, std::size_t size) {
    if (size > static_cast<std::size_t>(INT_MAX)) return false;
    return message.ParseFromArray(data, static_cast<int>(size));
}

/// "a <full name> protobuf message", for complaints about bytes that did not parse.
template <class Message>
std::string proto_kind() {
    return "a " + Message::default_instance().GetTypeName() + " protobuf message";
}

}  // namespace detail

/// `payload` parsed as a Request, or nullopt after a bad_request error frame on `ctx`.
template <class Request>
std::optional<Request> decode_proto(Context& ctx, Bytes payload) {
    Request request;
    if (detail::parse_proto(request, payload.data(), payload.size())) return request;
    ctx.fail(Error::bad_request, "msg_id " + std::to_string(ctx.msg_id()) +
                                     ": the payload is not " + detail::proto_kind<Request>());
    return std::nullopt;
}

/// `message` serialized as a payload (for replies, pushes and calls).
template <class Message>
std::string to_proto_payload(const Message& message) {
    return message.SerializeAsString();
}

/// A Handler that parses a Request, runs `function(ctx, request)` and, unless it returned void
/// or answered by itself, replies with its result serialized under the same msgID.
template <class Request, class Function>
Handler proto_handler(Function function) {
    return detail::typed_handler<Request>(
        [](Context& ctx, Bytes payload) { return decode_proto<Request>(ctx, payload); },
        [](const auto& reply) { return to_proto_payload(reply); }, std::move(function));
}

/// A call's reply parsed as a Reply. A failure passes through unchanged; bytes that do not
/// parse become an `application` failure with code "bad_reply": the callee ran but answered
/// something this caller cannot read, so retrying elsewhere would not help.
template <class Reply>
Result<Reply> decode_proto_reply(const CallReply& reply) {
    if (!reply) return reply.error();
    Reply message;
    if (detail::parse_proto(message, reply->data(), reply->size())) return message;
    return CallFailure{CallError::application, "bad_reply",
                       "the reply is not " + detail::proto_kind<Reply>()};
}

/// A Method that parses a Request from the call's payload and returns `function(ctx, request)`
/// (a Reply message, or a Result<Reply> to fail) serialized. Bytes that do not parse fail the
/// call with an `application` failure, code "bad_request", and the function does not run.
template <class Request, class Function>
Method proto_method(Function function) {
    return detail::typed_method<Request>(
        [](Bytes payload) -> Result<Request> {
            Request request;
            if (detail::parse_proto(request, payload.data(), payload.size())) return request;
            return CallFailure{CallError::application, "bad_request",
                               "the payload is not " + detail::proto_kind<Request>()};
        },
        [](const auto& reply) { return to_proto_payload(reply); }, std::move(function));
}

}  // namespace dinx::cluster
