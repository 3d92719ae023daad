#include "node/send_queue.hpp"

#include <algorithm>

namespace dinx::node {
namespace {

// A written prefix of the outbox larger than this is dropped even while the rest waits, so a
// peer that reads slowly but steadily does not make the buffer grow without bound.
constexpr std::size_t compact_after = 64 * 1024;

void release_if_large(ByteBuffer& buffer, std::size_t kept_capacity) {
    if (buffer.capacity() > kept_capacity)
        ByteBuffer{}.swap(buffer);
    else
        buffer.clear();
}

}  // namespace

void SendQueue::append_shared(const SharedBytes& frame) {
    // Own bytes queued so far go first, as a piece of their own.
    if (!outbox_.empty()) {
        pieces_capacity_ += outbox_.capacity();
        pieces_.push_back({std::exchange(outbox_, {}), {}});
    }
    pieces_.push_back({{}, frame});
    unsent_ += frame->size();
}

std::size_t SendQueue::gather(std::span<Bytes> out, std::size_t& offered) const {
    std::size_t count = 0;
    auto take = [&](Bytes bytes) {
        out[count++] = bytes;
        offered += bytes.size();
    };
    for (const auto& piece : pieces_) {
        if (count == out.size()) break;
        take(count == 0 ? piece.bytes().subspan(head_) : piece.bytes());
    }
    if (count < out.size() && !outbox_.empty())
        take(count == 0 ? Bytes{outbox_}.subspan(head_) : Bytes{outbox_});
    return count;
}

void SendQueue::consume(std::size_t written) {
    unsent_ -= written;
    while (written > 0 && !pieces_.empty()) {
        auto& piece = pieces_.front();
        std::size_t left = piece.bytes().size() - head_;
        std::size_t taken = std::min(left, written);
        written -= taken;
        if (taken < left) {
            head_ += taken;
            return;
        }
        head_ = 0;
        pieces_capacity_ -= piece.own.capacity();
        pieces_.erase(pieces_.begin());
    }
    if (written > 0) consume_outbox(written);
}

void SendQueue::consume_outbox(std::size_t written) {
    head_ += written;
    if (head_ == outbox_.size()) {
        head_ = 0;
        release_if_large(outbox_, kept_capacity_);
    } else if (head_ > compact_after && head_ > outbox_.size() / 2) {
        outbox_.erase(outbox_.begin(), outbox_.begin() + static_cast<std::ptrdiff_t>(head_));
        head_ = 0;
    }
}

void SendQueue::clear() {
    unsent_ = 0;
    head_ = 0;
    pieces_.clear();
    pieces_capacity_ = 0;
    ByteBuffer{}.swap(outbox_);
}

void SendQueue::release_idle() {
    if (unsent_ == 0) ByteBuffer{}.swap(outbox_);
}

}  // namespace dinx::node
