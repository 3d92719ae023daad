#pragma once
// A small blocking TLV client with timeouts, like zinx's znet client: the demo client, the load
// tools and the tests talk to gates with it. It may wrap its frames in a client wire layer
// (WebSocket, TLS, or both: see websocket_client_layer.hpp) and lay them out in another format.

#include "node/bytes.hpp"
#include "node/frame_codec.hpp"
#include "node/wire_layer.hpp"

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
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
    /// Connects to host:port, then runs the handshake of `layer` (none: plain TCP), or throws
    /// std::system_error after `timeout` or when the handshake is refused (naming why). Frames
    /// are laid out by `format` (null: zinx TLV), which must outlive the client.
    BlockingClient(const std::string& host, std::uint16_t port,
                   std::chrono::milliseconds timeout = std::chrono::seconds(5),
                   std::uint32_t max_frame_len = 16 << 20,
                   std::unique_ptr<WireLayer> layer = nullptr, const FrameFormat* format = nullptr);
    ~BlockingClient();
    BlockingClient(const BlockingClient&) = delete;
    BlockingClient& operator=(const BlockingClient&) = delete;

    /// Sends one frame (through the layer); throws std::system_error when the connection is
    /// gone.
    void send(std::uint32_t msg_id, Bytes payload);
    /// send() with text.
    void send(std::uint32_t msg_id, std::string_view text) { send(msg_id, as_bytes(text)); }
    /// Sends bytes as they are, never through the layer (to test framing).
    void send_raw(Bytes bytes);
    /// The next frame, or nullopt after `timeout` or when the server closed (see closed()).
    std::optional<Frame> receive(std::chrono::milliseconds timeout);
    /// True once the server closed the connection (or it broke, or the layer ended it).
    bool closed() const { return closed_; }
    /// Closes the socket; a receive() blocked on another thread returns.
    void close();
    /// Shuts down the sending side only (what `nc -N` does after its input): the server sees
    /// EOF, and what it still sends can be received.
    void shutdown_write();
    /// The socket's file descriptor (for poll-based tools).
    int fd() const { return fd_; }

private:
    /// Sends the layer's opening bytes and reads until its handshake is done.
    void handshake(const std::string& peer, std::chrono::milliseconds timeout);
    /// Waits up to `timeout` for bytes and reads them into `buffer`: how many, or (0 or less)
    /// why none: timed out, closed, or interrupted (see blocking_client.cpp).
    long read_into(std::chrono::milliseconds timeout, std::span<std::byte> buffer);
    /// Reads once (waiting up to `timeout`); false on timeout or close.
    bool read_some(std::chrono::milliseconds timeout);
    /// Passes read bytes through the layer: sends its reply, returns what it hands up.
    LayerVerdict take_in_layered(Bytes chunk, ByteBuffer& up);
    /// Decodes frames from the frame stream.
    void feed_frames(Bytes stream);

    int fd_ = -1;
    FrameReader reader_;
    const FrameFormat* format_;
    std::deque<Frame> frames_;
    bool closed_ = false;
    std::unique_ptr<WireLayer> layer_;
    // send() and receive() may run on two threads: the layer's state, and the order in which
    // its output reaches the socket (TLS records are numbered), are kept under this.
    std::mutex layer_mutex_;
    bool layer_ended_ = false;  // under layer_mutex_
};

}  // namespace dinx::node
