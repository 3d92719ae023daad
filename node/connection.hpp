#pragma once
// One TCP connection speaking TLV frames: a read loop that decodes every frame of each read,
// and a write queue flushed with one gathered write per wake-up. Client sessions and node
// links derive from it and say what a frame means.

#include "node/bytes.hpp"
#include "node/frame_codec.hpp"
#include "node/socket.hpp"

#include <asio/ip/tcp.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>

namespace dinx::node {

/// Limits of one connection.
struct ConnectionLimits {
    std::uint32_t max_frame_len = 64 * 1024;     ///< a larger dataLen closes the connection
    std::size_t max_send_queue_bytes = 4 << 20;  ///< unsent bytes beyond this close the connection
};

/// A framed TCP connection. All members must be used on the connection's executor (one io
/// thread); sends from other threads are posted there by the caller.
class Connection : public std::enable_shared_from_this<Connection> {
public:
    /// Takes a connected socket; nothing happens until start().
    Connection(Socket socket, ConnectionLimits limits);
    virtual ~Connection() = default;
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    /// Sets TCP_NODELAY and starts the read loop. on_closed() runs once when it ends.
    void start();
    /// Queues one frame; written with everything else queued before the next wake-up.
    void send(std::uint32_t msg_id, Bytes payload);
    /// Queues one frame whose body `write_body(ByteBuffer&)` appends to the queue in place. If
    /// write_body throws, the queue is left as it was and the exception passes on.
    template <class WriteBody>
    void send_with(std::uint32_t msg_id, WriteBody&& write_body);
    /// Closes the socket now; queued bytes are dropped. `reason` is kept for on_closed().
    void close(std::string reason);
    /// Sends what is queued, then closes (used to deliver a last error frame).
    void close_after_flush(std::string reason);

    /// False once close() was called or the peer went away.
    bool is_open() const { return open_; }
    /// The executor every member must be used on.
    asio::any_io_executor executor() { return socket_.get_executor(); }
    /// The peer's address (unspecified when the socket is closed).
    asio::ip::address remote_address() const;
    /// "ip:port" of the peer, for logs.
    const std::string& remote() const { return remote_; }
    /// Why the connection closed (empty while open, "peer closed" on EOF).
    const std::string& close_reason() const { return close_reason_; }
    /// True when this side closed it (a protocol violation, a full queue, a stop), false when
    /// the peer went away or the socket failed.
    bool closed_locally() const { return closed_locally_; }
    /// True when bytes arrived since the last call (for heartbeat and idle checks, which run
    /// on a timer so that the read path pays one store, not a clock read).
    bool take_heard() { return std::exchange(heard_, false); }
    /// True when bytes were handed to the kernel since the last call.
    bool take_sent() { return std::exchange(sent_, false); }
    /// Bytes queued and not yet written.
    std::size_t queued_bytes() const { return outbox_.size() + writing_.size(); }
    /// Bytes the kernel received from the peer that were not read yet (0 once closed).
    std::size_t unread_bytes() const;
    /// Bytes read from the peer so far.
    std::uint64_t bytes_read() const { return bytes_read_; }

protected:
    /// One frame arrived; the payload view is valid only during the call. Return false to stop
    /// reading (after close()).
    virtual bool on_frame(std::uint32_t msg_id, Bytes payload) = 0;
    /// The connection is closed for good; close_reason() says why. Called once.
    virtual void on_closed() = 0;

private:
    void wait_readable();
    void on_readable(std::error_code error);
    /// Ends reading for good and reports on_closed().
    void finish(std::error_code error);
    /// Reads once into the io thread's scratch buffer and decodes it; returns the bytes read.
    std::size_t read_available(std::error_code& error);
    /// Empties a written buffer, freeing it when a burst made it large.
    static void release_if_large(ByteBuffer& buffer);
    void after_enqueue();
    void schedule_flush();
    void start_write();
    void on_written(std::error_code error);

    Socket socket_;
    ConnectionLimits limits_;
    FrameReader reader_;
    ByteBuffer outbox_;   // frames queued since the last write started
    ByteBuffer writing_;  // frames handed to the kernel by the write in progress
    std::uint64_t bytes_read_ = 0;
    bool open_ = true;
    bool heard_ = false;
    bool sent_ = false;
    bool write_in_progress_ = false;
    bool flush_posted_ = false;
    bool close_when_flushed_ = false;
    bool closed_locally_ = false;
    std::string remote_;
    std::string close_reason_;
};

template <class WriteBody>
void Connection::send_with(std::uint32_t msg_id, WriteBody&& write_body) {
    if (!open_) return;
    std::size_t at = outbox_.size();
    outbox_.resize(at + frame_header_size);
    try {
        write_body(outbox_);
    } catch (...) {
        outbox_.resize(at);  // no half frame may reach the peer
        throw;
    }
    auto body_len = static_cast<std::uint32_t>(outbox_.size() - at - frame_header_size);
    write_frame_header(outbox_.data() + at, {msg_id, body_len});
    after_enqueue();
}

}  // namespace dinx::node
