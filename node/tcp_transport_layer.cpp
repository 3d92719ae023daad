#include "node/tcp_transport.hpp"

// The part of TcpTransport only a connection with a wire layer (WebSocket, TLS) runs: bytes read
// pass through the layer before the frame reader, and queued frames are wrapped by it before
// they are written. A plain connection never enters this file.

#include <array>

namespace dinx::node {
namespace {

// Queued pieces taken at a time when wrapping (the queue's gather limit).
constexpr std::size_t max_gathered = 32;

}  // namespace

void TcpTransport::take_in_layered(Bytes chunk) {
    // What the layer hands up goes through the frame reader at once, which copies what it must
    // keep, so one buffer per thread serves every layered connection.
    thread_local ByteBuffer up;
    up.clear();
    auto& layered = *layered_;
    std::size_t wire_before = layered.wire.size();
    auto verdict = layered.layer->take_in(chunk, up, layered.wire);
    if (layered.wire.size() != wire_before) recharge_queue();
    if (!layered.handshake_noted && layered.layer->handshake_done()) {
        layered.handshake_noted = true;
        if (budget_) budget_->note_handshake_done();
    }
    if (!up.empty()) decode(Bytes{up});
    if (!verdict.keep_open && open_) end_by_layer(std::move(verdict));
}

void TcpTransport::end_by_layer(LayerVerdict verdict) {
    auto& layered = *layered_;
    layered.ended = true;
    layered.goodbye_said = true;  // the layer's last words are in its wire buffer already
    queue_.clear();               // no frame may follow a WebSocket close or a TLS alert
    pause_reading(pause_for_ending);
    if (verdict.violation.empty())
        note_ending(std::move(verdict.reason));
    else
        note_ending(std::move(verdict.reason), verdict.violation);
    close_when_flushed_ = true;
    schedule_flush();
}

void TcpTransport::send_probe() {
    if (!layered_ || !open_ || layered_->goodbye_said || !handshake_done()) return;
    layered_->layer->probe(layered_->wire);
    recharge_queue();
    schedule_flush();
}

std::size_t TcpTransport::unsent() const {
    if (!layered_) return queue_.unsent();
    return queue_.unsent() + layered_->wire.size() - layered_->written;
}

void TcpTransport::wrap_queued() {
    // Everything queued leaves as one wrap (one WebSocket message of whole frames).
    thread_local ByteBuffer frames;
    frames.clear();
    while (queue_.unsent() > 0) {
        std::array<Bytes, max_gathered> pieces;
        std::size_t offered = 0;
        std::size_t count = queue_.gather(pieces, offered);
        for (std::size_t i = 0; i < count; ++i) append(frames, pieces[i]);
        queue_.consume(offered);
    }
    if (!frames.empty()) layered_->layer->wrap_out(Bytes{frames}, layered_->wire);
}

bool TcpTransport::write_layered(std::size_t& written, std::size_t& offered) {
    auto& layered = *layered_;
    if (layered.goodbye_said)
        queue_.clear();  // frames queued after the goodbye can never be sent: nothing waits on them
    else if (queue_.unsent() > 0)
        wrap_queued();
    offered = layered.wire.size() - layered.written;
    std::error_code error;
    written =
        socket_.write_some(asio::buffer(layered.wire.data() + layered.written, offered), error);
    if (error && error != asio::error::would_block) {
        close("write failed: " + error.message());
        return false;
    }
    if (written == 0 && offered != 0) return true;
    sent_ = written != 0 || sent_;
    bytes_written_ += written;
    layered.written += written;
    if (layered.written == layered.wire.size()) {
        layered.written = 0;
        if (layered.wire.capacity() > limits_.kept_write_buffer_bytes)
            ByteBuffer{}.swap(layered.wire);
        else
            layered.wire.clear();
    }
    recharge_queue();
    if (unsent() == 0) report_flushed();
    update_send_pause();
    return true;
}

}  // namespace dinx::node
