#pragma once
// A framed transport: frames in, frames out, close, pause reading. Client sessions and links
// talk to this interface only, so a TLS stream or a WebSocket can carry frames beside plain TCP
// without a change to the gate's logic. TcpTransport (tcp_transport.hpp) implements it.
//
// What every transport reports (open or not, why it closed, byte counts, whether the peer was
// heard) is kept here in the base: the gate reads it often and pays no virtual call for it, and
// an implementation only keeps it current.
//
// Back-pressure: reading pauses while the send queue is above a high-water mark (the peer does
// not read what it asked for) or while the owner asks (too much of its work in flight), and
// resumes when both are clear. Frames read but not delivered when reading paused are kept and
// delivered first on resume.

#include "node/bytes.hpp"
#include "node/memory_budget.hpp"

#include <asio/any_io_executor.hpp>
#include <asio/ip/address.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

namespace dinx::node {

/// Limits of one transport (32-bit: a copy is kept per connection, and a gate has many).
struct TransportLimits {
    std::uint32_t max_frame_len = 64 * 1024;       ///< a larger dataLen closes the transport
    std::uint32_t max_send_queue_bytes = 4 << 20;  ///< unsent bytes beyond this close it
    /// Reading pauses while more than this is unsent, and resumes at half; 0 = never pauses.
    std::uint32_t pause_reading_above = 0;
    /// While the process is over its memory budget, unsent bytes beyond this close the
    /// transport; 0 = the budget never closes it.
    std::uint32_t pressure_send_queue_bytes = 0;
    /// A write buffer up to this size is kept for reuse once written; a larger one is freed
    /// (a client's burst must not pin memory, but a busy link would reallocate every flush).
    std::uint32_t kept_write_buffer_bytes = 16 * 1024;
};

/// Why reading is paused; reading resumes when no reason is left.
enum PauseReason : std::uint8_t {
    pause_for_send_queue = 1,  ///< the peer does not read its replies (managed by the transport)
    pause_for_owner = 2,       ///< the owner has too much of this peer's work in flight
    pause_for_ending = 4,      ///< the connection is ending: nothing more is read (for good)
};

/// What a transport tells its owner. Called on the transport's executor.
class FrameSink {
public:
    virtual ~FrameSink() = default;
    /// One frame arrived; the payload view is valid only during the call. Return false to stop
    /// delivering (after a close, or after pause_reading()).
    virtual bool on_frame(std::uint32_t msg_id, Bytes payload) = 0;
    /// The transport is closed for good; close_reason() says why. Called once.
    virtual void on_closed() = 0;
    /// The peer shut down its sending side. Return true to keep the transport open for what is
    /// still owed to the peer (then close it later); false closes it now.
    virtual bool on_peer_finished() { return false; }
};

/// Writes the body of one frame at the end of a send queue: a reference to a callable, so that
/// an envelope is encoded in place behind a virtual call without an allocation.
class BodyWriter {
public:
    /// Refers to `write_body`, which must outlive the call it is passed to.
    template <class WriteBody>
    BodyWriter(WriteBody& write_body)  // NOLINT(google-explicit-constructor): a reference type
        : body_(const_cast<void*>(static_cast<const void*>(std::addressof(write_body)))),
          write_(&call<WriteBody>) {}
    /// Appends the body to `out`.
    void operator()(ByteBuffer& out) const { write_(body_, out); }

private:
    template <class WriteBody>
    static void call(void* body, ByteBuffer& out) {
        (*static_cast<WriteBody*>(body))(out);
    }
    void* body_;
    void (*write_)(void*, ByteBuffer&);
};

/// A connection that carries TLV frames. All members must be used on executor() (one io
/// thread); sends from other threads are posted there by the caller.
class FramedTransport {
public:
    FramedTransport() = default;
    virtual ~FramedTransport() = default;
    FramedTransport(const FramedTransport&) = delete;
    FramedTransport& operator=(const FramedTransport&) = delete;

    /// Starts reading; frames and the close go to `sink`, which is kept alive until its
    /// on_closed() returned.
    virtual void start(std::shared_ptr<FrameSink> sink) = 0;
    /// Queues one frame; written with everything else queued before the next wake-up.
    virtual void send(std::uint32_t msg_id, Bytes payload) = 0;
    /// Queues a whole frame (header included) shared with other transports, without a copy.
    virtual void send_shared(const SharedBytes& frame) = 0;
    /// Queues one frame whose body `write_body` appends to the queue in place. If it throws,
    /// the queue is left as it was and the exception passes on.
    virtual void send_written(std::uint32_t msg_id, BodyWriter write_body) = 0;
    /// send_written() for any callable `write_body(ByteBuffer&)`.
    template <class WriteBody>
    void send_with(std::uint32_t msg_id, WriteBody&& write_body) {
        send_written(msg_id, BodyWriter{write_body});
    }
    /// Closes now; queued bytes are dropped. `reason` is kept for on_closed(); `violation` (a
    /// literal), when the peer broke a rule, names the rule for summaries.
    virtual void close(std::string reason, std::string_view violation = {}) = 0;
    /// Sends what is queued, then closes (a last error frame, a half-closed client's replies).
    virtual void close_after_flush(std::string reason) = 0;
    /// Runs `flushed` once nothing is queued to send (now, if nothing is), or the transport
    /// closed. One at a time.
    virtual void notify_when_flushed(std::function<void()> flushed) = 0;
    /// Stops reading for `reason` until resume_reading(reason).
    void pause_reading(PauseReason reason) { pause_reasons_ |= reason; }
    /// Lifts `reason`; reading goes on when no other reason holds it.
    void resume_reading(PauseReason reason) {
        if ((pause_reasons_ & reason) == 0) return;
        pause_reasons_ &= static_cast<std::uint8_t>(~reason);
        if (!reading_paused()) reading_may_resume();
    }
    /// Changes the largest frame accepted from now on (links accept big frames only once
    /// authenticated).
    virtual void set_max_frame_len(std::uint32_t max_frame_len) = 0;
    /// Frees the send buffer kept for reuse when nothing is queued (an idle transport then
    /// holds no write buffer).
    virtual void release_idle_buffers() = 0;
    /// Sends a keep-alive probe the peer answers on its own (a WebSocket ping), for a peer that
    /// has been quiet a while; nothing on a transport that has none (plain TCP).
    virtual void send_probe() {}
    /// True once the transport's own handshake (WebSocket upgrade, TLS) is done; always true
    /// for plain TCP.
    virtual bool handshake_done() const { return true; }
    /// Counts `bytes` more (or fewer) of memory its owner holds for it in the process budget.
    /// Safe in the owner's destructor: the transport keeps the budget alive.
    virtual void charge_memory(std::int64_t bytes) = 0;

    /// The executor every member must be used on.
    virtual asio::any_io_executor executor() = 0;
    /// The peer's address (unspecified once closed).
    virtual asio::ip::address remote_address() const = 0;
    /// "ip:port" of the peer, for logs ("?" when it was not known).
    virtual std::string remote() const = 0;
    /// Bytes the peer sent that were not read yet (0 once closed).
    virtual std::size_t unread_bytes() const = 0;
    /// Bytes queued and not yet written.
    virtual std::size_t queued_bytes() const = 0;
    /// True while part of a frame has arrived and its end has not.
    virtual bool has_partial_frame() const = 0;
    /// True while frames read before a pause wait to be delivered.
    virtual bool has_held_frames() const = 0;

    /// False once close() was called or the peer went away.
    bool is_open() const { return open_; }
    /// True while reading is paused for any reason.
    bool reading_paused() const { return pause_reasons_ != 0; }
    /// True while reading is paused for `reason` (maybe others too).
    bool paused_for(PauseReason reason) const { return (pause_reasons_ & reason) != 0; }
    /// True once the peer shut down its sending side and the transport stayed open to answer.
    bool peer_finished() const { return peer_finished_; }
    /// Why it closed (empty while open, "peer closed" on EOF).
    const std::string& close_reason() const { return ending_ ? ending_->reason : no_reason(); }
    /// True when this side closed it (a protocol violation, a full queue, a stop), false when
    /// the peer went away or the connection failed.
    bool closed_locally() const { return closed_locally_; }
    /// The rule the peer broke, when that is why it was closed; else empty.
    std::string_view violation() const { return ending_ ? ending_->violation : std::string_view{}; }
    /// True when bytes arrived since the last call (for heartbeat and idle checks, which run
    /// on a timer so that the read path pays one store, not a clock read).
    bool take_heard() { return std::exchange(heard_, false); }
    /// True when bytes were handed to the kernel since the last call.
    bool take_sent() { return std::exchange(sent_, false); }
    /// Frame bytes read from the peer so far.
    std::uint64_t bytes_read() const { return bytes_read_; }
    /// Frame bytes handed to the kernel so far.
    std::uint64_t bytes_written() const { return bytes_written_; }
    /// Frame bytes ever queued: a frame queued when this read X was surely not sent once the
    /// transport closes with bytes_acked_at_close() below X.
    std::uint64_t bytes_queued_total() const { return bytes_written_ + queued_bytes(); }
    /// Once closed: frame bytes the peer had acknowledged receiving (bytes_written() when it is
    /// not known). A frame that ends beyond it surely never reached the peer.
    std::uint64_t bytes_acked_at_close() const { return acked_at_close_; }
    /// Frames delivered to the sink so far.
    std::uint64_t frames_read() const { return frames_read_; }

protected:
    /// Reading was paused and no reason is left: start it again if it stopped.
    virtual void reading_may_resume() = 0;

    /// Why it closes, and the rule the peer broke if that is why.
    struct Ending {
        std::string reason;
        std::string_view violation;
    };
    /// Records why it closes (made only then: an open connection pays one pointer for it).
    void note_ending(std::string reason, std::string_view violation = {}) {
        if (!ending_) ending_ = std::make_unique<Ending>();
        ending_->reason = std::move(reason);
        ending_->violation = violation;
    }

    /// The sink, from start() until on_closed() was reported.
    std::shared_ptr<FrameSink> sink_;
    std::unique_ptr<Ending> ending_;
    std::uint64_t bytes_read_ = 0;
    std::uint64_t bytes_written_ = 0;
    std::uint64_t acked_at_close_ = 0;
    std::uint64_t frames_read_ = 0;
    std::uint8_t pause_reasons_ = 0;
    bool open_ = true;
    bool closed_locally_ = false;
    bool peer_finished_ = false;
    bool heard_ = false;
    bool sent_ = false;

private:
    static const std::string& no_reason() {
        static const std::string none;
        return none;
    }
};

}  // namespace dinx::node
