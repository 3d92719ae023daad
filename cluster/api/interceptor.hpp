#pragma once
// Gate interceptors: functions a game registers that see every client frame on its gate before
// routing (zinx's interceptors, mqant's RouteHandler). Each may pass the frame on (perhaps with
// a new msgID), answer it, or stop it with an error frame; routing is the last link of the chain.

#include "cluster/api/error.hpp"
#include "cluster/api/origin.hpp"
#include "node/bytes.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <string_view>

namespace dinx::cluster {

/// What an interceptor decides about a frame.
enum class Verdict : std::uint8_t {
    pass,  ///< on to the next interceptor, then routing
    stop,  ///< no further: the frame was answered (or gets a `rejected` error frame)
};

/// A client frame on its way in, as an interceptor sees it. Valid during the call only.
class ClientFrame {
public:
    virtual ~ClientFrame() = default;
    ClientFrame(const ClientFrame&) = delete;
    ClientFrame& operator=(const ClientFrame&) = delete;

    /// The msgID the frame will be routed by.
    std::uint32_t msg_id() const { return msg_id_; }
    /// Routes the frame by another msgID (later interceptors see the new one).
    void rewrite(std::uint32_t msg_id) { msg_id_ = msg_id; }
    /// The frame's data.
    Bytes payload() const { return payload_; }
    /// The client: its gate id, connection id and bound uid (empty when not logged in).
    virtual const Origin& client() const = 0;
    /// The value of session key `key` on the gate, or nullopt.
    virtual std::optional<std::string_view> session_value(std::string_view key) const = 0;
    /// Answers the frame with a frame of the interceptor's own.
    virtual void reply(std::uint32_t msg_id, Bytes payload) = 0;
    /// reply() with text.
    void reply(std::uint32_t msg_id, std::string_view text) { reply(msg_id, as_bytes(text)); }
    /// Answers the frame with an error frame.
    void fail(Error code, std::string_view message) { fail(to_string(code), message); }
    /// fail() with a code of the application's own.
    virtual void fail(std::string_view app_code, std::string_view message) = 0;
    /// True once reply() or fail() was called.
    virtual bool answered() const = 0;

protected:
    ClientFrame(std::uint32_t msg_id, Bytes payload) : msg_id_(msg_id), payload_(payload) {}

private:
    std::uint32_t msg_id_;
    Bytes payload_;
};

/// One link of a gate's chain. Runs on the client's io thread and must not block.
using Interceptor = std::function<Verdict(ClientFrame& frame)>;

}  // namespace dinx::cluster
