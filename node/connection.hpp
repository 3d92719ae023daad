#pragma once
// One TCP connection speaking TLV frames: a read loop that decodes every frame of each read,
// and a send queue flushed with one gathered write per wake-up. Client sessions and node links
// derive from it and say what a frame means.
//
// Back-pressure: reading pauses while the send queue is above a high-water mark (the peer does
// not read what it asked for) or while the owner asks (too much of its work in flight), and
// resumes when both are clear. Frames read but not delivered when reading paused are kept and
// delivered first on resume.

#include "node/bytes.hpp"
#include "node/frame_codec.hpp"
#include "node/memory_budget.hpp"
#include "node/socket.hpp"

#include <asio/ip/tcp.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace dinx::node {

/// Limits of one connection.
struct ConnectionLimits {
    std::uint32_t max_frame_len = 64 * 1024;     ///< a larger dataLen closes the connection
    std::size_t max_send_queue_bytes = 4 << 20;  ///< unsent bytes beyond this close the connection
    /// Reading pauses while more than this is unsent, and resumes at half; 0 = never pauses.
    std::size_t pause_reading_above = 0;
    /// While the process is over its memory budget, unsent bytes beyond this close the
    /// connection; 0 = the budget never closes it.
    std::size_t pressure_send_queue_bytes = 0;
};

/// Why reading is paused; reading resumes when no reason is left.
enum PauseReason : std::uint8_t {
    pause_for_send_queue = 1,  ///< the peer does not read its replies (managed here)
    pause_for_owner = 2,       ///< the owner has too much of this peer's work in flight
};

/// A framed TCP connection. All members must be used on the connection's executor (one io
/// thread); sends from other threads are posted there by the caller.
class Connection : public std::enable_shared_from_this<Connection> {
public:
    /// Takes a connected socket; nothing happens until start(). Buffered bytes are counted in
    /// `account` (the io thread's) of `budget` when given.
    Connection(Socket socket, ConnectionLimits limits, std::shared_ptr<MemoryBudget> budget = {},
               std::size_t account = 0);
    virtual ~Connection();
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    /// Sets TCP_NODELAY and starts the read loop. on_closed() runs once when it ends.
    void start();
    /// Queues one frame; written with everything else queued before the next wake-up.
    void send(std::uint32_t msg_id, Bytes payload);
    /// Queues a whole frame (header included) shared with other connections, without a copy.
    void send_shared(const SharedBytes& frame);
    /// Queues one frame whose body `write_body(ByteBuffer&)` appends to the queue in place. If
    /// write_body throws, the queue is left as it was and the exception passes on.
    template <class WriteBody>
    void send_with(std::uint32_t msg_id, WriteBody&& write_body);
    /// Closes the socket now; queued bytes are dropped. `reason` is kept for on_closed();
    /// `violation` (a literal), when the peer broke a rule, names the rule for summaries.
    void close(std::string reason, std::string_view violation = {});
    /// Sends what is queued, then closes (a last error frame, a half-closed client's replies).
    void close_after_flush(std::string reason);
    /// Stops reading for `reason` until resume_reading(reason).
    void pause_reading(PauseReason reason);
    /// Lifts `reason`; reading goes on when no other reason holds it.
    void resume_reading(PauseReason reason);
    /// Frees the send buffer kept for reuse when nothing is queued (an idle connection then
    /// holds no write buffer).
    void release_idle_buffers();
    /// Changes the largest frame accepted from now on (links accept big frames only once
    /// authenticated).
    void set_max_frame_len(std::uint32_t max_frame_len);

    /// False once close() was called or the peer went away.
    bool is_open() const { return open_; }
    /// True while reading is paused for any reason.
    bool reading_paused() const { return pause_reasons_ != 0; }
    /// True while reading is paused for `reason` (maybe others too).
    bool paused_for(PauseReason reason) const { return (pause_reasons_ & reason) != 0; }
    /// True once the peer shut down its sending side and the connection stayed open to answer.
    bool peer_finished() const { return peer_finished_; }
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
    /// The rule the peer broke, when that is why it was closed; else empty.
    std::string_view violation() const { return violation_; }
    /// True when bytes arrived since the last call (for heartbeat and idle checks, which run
    /// on a timer so that the read path pays one store, not a clock read).
    bool take_heard() { return std::exchange(heard_, false); }
    /// True when bytes were handed to the kernel since the last call.
    bool take_sent() { return std::exchange(sent_, false); }
    /// Bytes queued and not yet written.
    std::size_t queued_bytes() const { return queued_; }
    /// Bytes the kernel received from the peer that were not read yet (0 once closed).
    std::size_t unread_bytes() const;
    /// Bytes read from the peer so far.
    std::uint64_t bytes_read() const { return bytes_read_; }
    /// Bytes ever queued, and ever handed to the kernel: a frame queued when the first read X
    /// was surely not sent once the connection closes with the second below X.
    std::uint64_t bytes_queued_total() const { return bytes_written_ + queued_; }
    /// Bytes handed to the kernel so far.
    std::uint64_t bytes_written() const { return bytes_written_; }
    /// Once closed: bytes the peer's TCP had acknowledged (bytes_written() when the kernel did
    /// not say). A frame that ends beyond it surely never reached the peer.
    std::uint64_t bytes_acked_at_close() const { return acked_at_close_; }
    /// Frames delivered to on_frame() so far.
    std::uint64_t frames_read() const { return frames_read_; }
    /// True while part of a frame has arrived and its end has not.
    bool has_partial_frame() const { return reader_.has_partial_frame(); }
    /// True while frames read before a pause wait to be delivered.
    bool has_held_frames() const { return reader_.has_held_bytes(); }
    /// Runs `flushed` once nothing is queued to send (now, if nothing is), or the connection
    /// closed. One at a time.
    void notify_when_flushed(std::function<void()> flushed);

protected:
    /// One frame arrived; the payload view is valid only during the call. Return false to stop
    /// delivering (after close(), or after pause_reading()).
    virtual bool on_frame(std::uint32_t msg_id, Bytes payload) = 0;
    /// The connection is closed for good; close_reason() says why. Called once.
    virtual void on_closed() = 0;
    /// The peer shut down its sending side (EOF). Return true to keep the connection open for
    /// what is still owed to the peer (then close it later); false closes it now.
    virtual bool on_peer_finished() { return false; }
    /// Counts `bytes` more (or fewer) of memory held for this connection in the budget. Safe in
    /// a destructor: the connection keeps the budget alive.
    void charge_memory(std::int64_t bytes) { charge(bytes); }

private:
    /// One piece of the send queue: bytes of its own, or a frame shared with others.
    struct QueuedPiece {
        ByteBuffer own;
        SharedBytes shared;
        Bytes bytes() const { return shared ? Bytes{*shared} : Bytes{own}; }
    };

    enum class ReadState : std::uint8_t {
        idle,     ///< not reading: paused, finished, or not started
        waiting,  ///< a wait for readability is pending
        posted,   ///< a read is posted (resume, or a turn yielded to other connections)
        reading,  ///< inside on_readable
    };

    void wait_readable();
    void post_read();
    void on_readable(std::error_code error);
    /// Reads and decodes until paused, drained or `reads_per_turn` reads; false when reading
    /// ended for good (closed or failed, `error` says how).
    bool read_turn(std::error_code& error);
    /// The peer sent EOF: stay half-open if the owner wants it, else close.
    void on_eof();
    /// Delivers frames held back by a pause, then reads the socket once into the io thread's
    /// scratch buffer; returns the bytes read.
    std::size_t read_available(std::error_code& error);
    /// Feeds bytes to the frame reader and keeps its memory counted.
    void decode(Bytes chunk);
    /// Ends reading for good and reports on_closed() (once).
    void finish(std::error_code error);
    void report_closed();
    /// Frees a written buffer when a burst made it large, else keeps it for reuse.
    static void release_if_large(ByteBuffer& buffer);
    void after_enqueue(std::size_t bytes, bool own);
    void schedule_flush();
    void start_write();
    /// Drops `written` bytes from the front of the queue.
    void consume(std::size_t written);
    void wait_writable();
    void update_send_pause();
    /// Counts the memory the send queue holds now in the budget.
    void recharge_queue();
    /// Drops `written` bytes from the front of outbox_.
    void consume_outbox(std::size_t written);
    /// Drops every queued byte (the socket is closed).
    void release_buffers();
    /// Runs the flush notification, if one waits.
    void report_flushed();
    /// Notes what the peer acknowledged, then closes the socket.
    void close_socket(bool shutdown_first);
    void charge(std::int64_t bytes) {
        if (account_) account_->charge(bytes);
    }

    Socket socket_;
    ConnectionLimits limits_;
    std::shared_ptr<MemoryBudget> budget_;
    MemoryBudget::Account* account_ = nullptr;
    FrameReader reader_;
    std::vector<QueuedPiece> pieces_;  // queued before outbox_, in order (shared frames)
    ByteBuffer outbox_;                // own bytes queued after every piece; appended to
    std::size_t head_ = 0;             // bytes of the first queued piece already written
    std::size_t queued_ = 0;           // unsent bytes in pieces_ and outbox_
    std::size_t pieces_capacity_ = 0;  // memory of the own pieces in pieces_
    std::size_t charged_queue_ = 0;    // queue memory counted in account_
    std::size_t charged_reader_ = 0;   // reader memory counted in account_
    std::uint64_t bytes_read_ = 0;
    std::uint64_t bytes_written_ = 0;
    std::uint64_t acked_at_close_ = 0;
    std::uint64_t frames_read_ = 0;
    ReadState read_state_ = ReadState::idle;
    std::uint8_t pause_reasons_ = 0;
    bool open_ = true;
    bool started_ = false;
    bool closed_reported_ = false;
    bool peer_finished_ = false;
    bool heard_ = false;
    bool sent_ = false;
    bool write_waiting_ = false;
    bool flush_posted_ = false;
    bool close_when_flushed_ = false;
    bool closed_locally_ = false;
    std::string remote_;
    std::string close_reason_;
    std::string_view violation_;
    std::function<void()> on_flushed_;  // see notify_when_flushed()
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
    after_enqueue(outbox_.size() - at, true);
}

}  // namespace dinx::node
