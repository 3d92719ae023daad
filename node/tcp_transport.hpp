#pragma once
// Frames over a plain TCP socket: a read loop that decodes every frame of each read, and a send
// queue flushed with one gathered write per wake-up.
//
// Reads wait for readiness and then read into one buffer per io thread, so an idle connection
// holds no read buffer and costs one pending wait: that is why a gate needs about 1 KiB per idle
// player. WebSocket and TLS connections are the same transport with a wire layer
// (wire_layer.hpp) between the socket and the frames, so they keep that read loop, the per-thread
// buffer and the one write per wake-up; a plain connection pays one null pointer for it.

#include "node/frame_codec.hpp"
#include "node/framed_transport.hpp"
#include "node/send_queue.hpp"
#include "node/socket.hpp"
#include "node/wire_layer.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace dinx::node {

/// A framed TCP connection. All members must be used on the socket's executor (one io thread).
class TcpTransport final : public FramedTransport,
                           public std::enable_shared_from_this<TcpTransport> {
public:
    /// Takes a connected socket; nothing happens until start(). Buffered bytes are counted in
    /// `account` (the io thread's) of `budget` when given. Frames are laid out by `format` (zinx
    /// TLV when null; it must outlive the transport) and pass through `layer` when one is given.
    TcpTransport(Socket socket, TransportLimits limits, std::shared_ptr<MemoryBudget> budget = {},
                 std::size_t account = 0, std::unique_ptr<WireLayer> layer = {},
                 const FrameFormat* format = nullptr);
    ~TcpTransport() override;

    /// Sets TCP_NODELAY and starts the read loop.
    void start(std::shared_ptr<FrameSink> sink) override;
    void send(std::uint32_t msg_id, Bytes payload) override;
    void send_shared(const SharedBytes& frame) override;
    void send_written(std::uint32_t msg_id, BodyWriter write_body) override;
    void close(std::string reason, std::string_view violation = {}) override;
    void close_after_flush(std::string reason) override;
    void notify_when_flushed(std::function<void()> flushed) override;
    void set_max_frame_len(std::uint32_t max_frame_len) override;
    void release_idle_buffers() override;
    void charge_memory(std::int64_t bytes) override { charge(bytes); }
    void send_probe() override;
    bool handshake_done() const override { return !layered_ || layered_->layer->handshake_done(); }
    asio::any_io_executor executor() override { return socket_.get_executor(); }
    asio::ip::address remote_address() const override { return peer_.address(); }
    std::string remote() const override { return describe(peer_); }
    std::size_t unread_bytes() const override;
    std::size_t queued_bytes() const override { return unsent(); }
    bool has_partial_frame() const override { return reader_.has_partial_frame(); }
    bool has_held_frames() const override { return reader_.has_held_bytes(); }

private:
    enum class ReadState : std::uint8_t {
        idle,     ///< not reading: paused, finished, or not started
        waiting,  ///< a wait for readability is pending
        posted,   ///< a read is posted (resume, or a turn yielded to other connections)
        reading,  ///< inside on_readable
    };

    void reading_may_resume() override;
    void wait_readable();
    void post_read();
    void on_readable(std::error_code error);
    /// Reads and decodes until paused, drained or a few reads; false when reading ended for
    /// good (closed or failed, `error` says how).
    bool read_turn(std::error_code& error);
    /// The peer sent EOF: stay half-open if the sink wants it, else close.
    void on_eof();
    /// Delivers frames held back by a pause, then reads the socket once into the io thread's
    /// scratch buffer; returns the bytes read.
    std::size_t read_available(std::error_code& error);
    /// Feeds bytes to the frame reader and keeps its memory counted.
    void decode(Bytes chunk);
    /// Passes bytes read through the wire layer, decodes what it hands up, and ends the
    /// connection when the layer says so.
    void take_in_layered(Bytes chunk);
    /// The layer ended the connection: nothing more is read or queued; what it answered is
    /// sent, then the socket is closed.
    void end_by_layer(LayerVerdict verdict);
    /// Moves every queued frame through the layer into its wire buffer.
    void wrap_queued();
    /// Writes the layer's wire buffer once; false when the write failed (and closed).
    bool write_layered(std::size_t& written, std::size_t& offered);
    /// Bytes not yet written: queued frames, and wire bytes of the layer.
    std::size_t unsent() const;
    /// Ends reading for good and reports the close (once).
    void finish(std::error_code error);
    /// Tells the sink it is closed (once) and lets it go.
    void report_closed();
    /// Counts `bytes` just queued; closes when the queue is over its limits.
    void after_enqueue(std::size_t bytes);
    void schedule_flush();
    void start_write();
    /// Writes the front of the queue once; false when the write failed (and closed).
    bool write_once(std::size_t& written, std::size_t& offered);
    void wait_writable();
    void update_send_pause();
    /// Counts the memory the send queue holds now in the budget.
    void recharge_queue();
    /// Drops every queued byte (the socket is closed).
    void release_buffers();
    /// Runs the flush notification, if one waits.
    void report_flushed();
    /// Notes what the peer acknowledged, then closes the socket.
    void close_socket(bool shutdown_first);
    void charge(std::int64_t bytes) {
        if (account_) account_->charge(bytes);
    }

    /// What only a layered connection has: its layer and the wire bytes it produced.
    struct Layered {
        std::unique_ptr<WireLayer> layer;
        ByteBuffer wire;            // wrapped bytes not yet written
        std::size_t written = 0;    // bytes of `wire` already written
        bool goodbye_said = false;  // the layer's goodbye is in `wire` (nothing may follow it)
        bool ended = false;         // the layer ended the connection
        bool handshake_noted = false;  // the budget heard that the handshake ended
    };

    Socket socket_;
    std::unique_ptr<Layered> layered_;
    asio::ip::tcp::endpoint peer_;  // kept: a reset socket no longer knows its peer
    TransportLimits limits_;
    std::shared_ptr<MemoryBudget> budget_;
    MemoryBudget::Account* account_ = nullptr;
    FrameReader reader_;
    SendQueue queue_;
    std::size_t charged_queue_ = 0;   // queue memory counted in account_
    std::size_t charged_reader_ = 0;  // reader memory counted in account_
    ReadState read_state_ = ReadState::idle;
    bool started_ = false;
    bool closed_reported_ = false;
    bool write_waiting_ = false;
    bool flush_posted_ = false;
    bool close_when_flushed_ = false;
    // See notify_when_flushed(): only a drain sets it, so an idle connection pays one pointer.
    std::unique_ptr<std::function<void()>> on_flushed_;
};

}  // namespace dinx::node
