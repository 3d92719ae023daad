#pragma once
// A small blocking TLV client with timeouts, like zinx's znet client: the demo client, the load
// tools and the tests talk to gates with it.

#include "node/bytes.hpp"
#include "node/frame_codec.hpp"

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>

namespace dinx::node {

/// One frame as a client sees it.
struct Frame {
    std::uint32_t msg_id = 0;
    std::string payload;
};

/// A blocking client connection. send() and receive() may run on two threads at once.
class BlockingClient {
public:
    /// Connects to host:port or throws std::system_error after `timeout`.
    BlockingClient(const std::string& host, std::uint16_t port,
                   std::chrono::milliseconds timeout = std::chrono::seconds(5),
                   std::uint32_t max_frame_len = 16 << 20);
    ~BlockingClient();
    BlockingClient(const BlockingClient&) = delete;
    BlockingClient& operator=(const BlockingClient&) = delete;

    /// Sends one frame; throws std::system_error when the connection is gone.
    void send(std::uint32_t msg_id, Bytes payload);
    /// send() with text.
    void send(std::uint32_t msg_id, std::string_view text) { send(msg_id, as_bytes(text)); }
    /// Sends bytes as they are (to test framing).
    void send_raw(Bytes bytes);
    /// The next frame, or nullopt after `timeout` or when the server closed (see closed()).
    std::optional<Frame> receive(std::chrono::milliseconds timeout);
    /// True once the server closed the connection (or it broke).
    bool closed() const { return closed_; }
    /// Closes the socket; a receive() blocked on another thread returns.
    void close();
    /// Shuts down the sending side only (what `nc -N` does after its input): the server sees
    /// EOF, and what it still sends can be received.
    void shutdown_write();
    /// The socket's file descriptor (for poll-based tools).
    int fd() const { return fd_; }

private:
    /// Reads once (waiting up to `timeout`); false on timeout or close.
    bool read_some(std::chrono::milliseconds timeout);

    int fd_ = -1;
    FrameReader reader_;
    std::deque<Frame> frames_;
    bool closed_ = false;
};

}  // namespace dinx::node
