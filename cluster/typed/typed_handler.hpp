#pragma once
// What every typed adapter (json.hpp, protobuf.hpp) does with a function of a typed request:
// decode the payload (or answer bad_request and stop), run the function, and reply with its
// result encoded under the request's msgID, unless it returned void or answered by itself; and
// the same for a method, whose decode failure is the caller's `application` failure with code
// "bad_request".

#include "cluster/api/call.hpp"
#include "cluster/api/context.hpp"
#include "cluster/api/handler.hpp"

#include <type_traits>
#include <utility>

namespace dinx::cluster::detail {

/// A Handler running `function` on what `decode(ctx, payload)` gives (an optional Request; empty
/// after it answered bad_request), replying with `encode(result)`.
template <class Request, class Decode, class Encode, class Function>
Handler typed_handler(Decode decode, Encode encode, Function function) {
    return [decode, encode, function = std::move(function)](Context& ctx, Bytes payload) {
        auto request = decode(ctx, payload);
        if (!request) return;
        using Reply = std::invoke_result_t<const Function&, Context&, const Request&>;
        if constexpr (std::is_void_v<Reply>) {
            function(ctx, *request);
        } else {
            Reply reply = function(ctx, *request);
            if (!ctx.answered()) ctx.reply(ctx.msg_id(), encode(reply));
        }
    };
}

/// True for Result<T>.
template <class T>
struct is_result : std::false_type {};
template <class T>
struct is_result<Result<T>> : std::true_type {};

/// A Method running `function` on what `decode(payload)` gives (a Result<Request>: a failure is
/// the call's outcome), its result (a Reply, or a Result<Reply> to fail) encoded with `encode`.
template <class Request, class Decode, class Encode, class Function>
Method typed_method(Decode decode, Encode encode, Function function) {
    return plain_method(
        [decode, encode, function = std::move(function)](Context& ctx, Bytes payload) -> CallReply {
            Result<Request> request = decode(payload);
            if (!request) return request.error();
            auto reply = function(ctx, *request);
            if constexpr (is_result<decltype(reply)>::value) {
                if (!reply) return reply.error();
                return CallReply(encode(*reply));
            } else {
                return CallReply(encode(reply));
            }
        });
}

}  // namespace dinx::cluster::detail
