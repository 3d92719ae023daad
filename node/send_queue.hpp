#pragma once
// The bytes a transport still has to write, in order: frames of its own appended to one buffer,
// and frames shared with other transports (a broadcast) queued by reference. A write takes the
// front of the queue as one gather list, so everything queued in a wake-up leaves in one call.

#include "node/bytes.hpp"
#include "node/frame_codec.hpp"
#include "node/memory_budget.hpp"

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace dinx::node {

/// The unsent bytes of one transport.
class SendQueue {
public:
    /// A queue whose buffer, once written, is kept for reuse up to `kept_capacity` bytes. Frames
    /// are zinx TLV unless `format` (which must outlive the queue) says otherwise.
    explicit SendQueue(std::size_t kept_capacity, const FrameFormat* format = nullptr)
        : format_(format == &tlv_format() ? nullptr : format), kept_capacity_(kept_capacity) {}

    /// Appends one frame.
    void append(std::uint32_t msg_id, Bytes payload) {
        if (format_)
            append_frame(outbox_, *format_, msg_id, payload);
        else
            append_frame(outbox_, msg_id, payload);
    }
    /// Bytes in each frame's header.
    std::size_t header_size() const { return format_ ? format_->header_size() : frame_header_size; }
    /// Appends a whole frame shared with others, without a copy.
    void append_shared(const SharedBytes& frame);
    /// Appends one frame whose body `write_body(ByteBuffer&)` writes in place; if it throws,
    /// nothing is appended and the exception passes on. Returns the frame's size.
    template <class WriteBody>
    std::size_t append_with(std::uint32_t msg_id, WriteBody&& write_body);
    /// Counts `bytes` just appended as unsent.
    void note_appended(std::size_t bytes) { unsent_ += bytes; }

    /// Fills `out` with the front of the queue (at most out.size() pieces); returns how many
    /// pieces it used and adds their bytes to `offered`.
    std::size_t gather(std::span<Bytes> out, std::size_t& offered) const;
    /// Drops `written` bytes from the front.
    void consume(std::size_t written);
    /// Drops everything.
    void clear();
    /// Frees the buffer kept for reuse when nothing is unsent.
    void release_idle();

    /// Bytes not yet written.
    std::size_t unsent() const { return unsent_; }
    /// Memory the queue holds (capacities, which is what the process's size follows).
    std::size_t held_capacity() const { return outbox_.capacity() + pieces_capacity_; }

private:
    /// One piece before the outbox: bytes of its own, or a frame shared with others.
    struct Piece {
        ByteBuffer own;
        SharedBytes shared;
        Bytes bytes() const { return shared ? Bytes{*shared} : Bytes{own}; }
    };
    /// Drops `written` bytes from the front of outbox_.
    void consume_outbox(std::size_t written);

    std::vector<Piece> pieces_;        // queued before outbox_, in order (shared frames)
    ByteBuffer outbox_;                // own bytes queued after every piece; appended to
    std::size_t head_ = 0;             // bytes of the first queued piece already written
    std::size_t unsent_ = 0;           // unsent bytes in pieces_ and outbox_
    std::size_t pieces_capacity_ = 0;  // memory of the own pieces in pieces_
    const FrameFormat* format_;        // nullptr: zinx TLV
    std::size_t kept_capacity_;        // see the constructor
};

template <class WriteBody>
std::size_t SendQueue::append_with(std::uint32_t msg_id, WriteBody&& write_body) {
    std::size_t at = outbox_.size();
    std::size_t header = header_size();
    outbox_.resize(at + header);
    try {
        write_body(outbox_);
    } catch (...) {
        outbox_.resize(at);  // no half frame may reach the peer
        throw;
    }
    auto body_len = static_cast<std::uint32_t>(outbox_.size() - at - header);
    if (format_)
        format_->write_header(outbox_.data() + at, {msg_id, body_len});
    else
        write_frame_header(outbox_.data() + at, {msg_id, body_len});
    return outbox_.size() - at;
}

}  // namespace dinx::node
