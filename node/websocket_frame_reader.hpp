#pragma once
// RFC 6455 section 5: reading one side's frames, for the server layer (which reads a client's
// masked frames) and the client layer (which reads a server's unmasked ones). The reader checks
// every rule it can see and hands data payload up as it arrives, fragment by fragment, so it
// keeps no payload buffer; only a control frame split across reads (at most 125 bytes) is kept
// until its end. Replies are the layer's: each side writes its own frames.

#include "node/bytes.hpp"

#include <array>
#include <cstdint>
#include <memory>
#include <string_view>

namespace dinx::node {

/// Which side sent the frames a reader reads.
enum class FrameSource : std::uint8_t {
    client,  ///< masked frames, unmasked on their way up (the server layer reads them)
    server,  ///< unmasked frames, which go up as they are (the client layer reads them)
};

/// What a read stopped at.
struct WebSocketFrameEvent {
    /// The kinds of stop.
    enum class Kind : std::uint8_t {
        need_more,  ///< the wire is used up; no frame needs an answer
        ping,       ///< a whole ping: `payload` is what the pong carries back
        pong,       ///< a whole pong: `payload`
        close,      ///< a whole, well-formed close: `code` (1005 when it had none)
        violation,  ///< the peer broke a rule: close with `code` and `text`; `violation` names it
    };

    Kind kind = Kind::need_more;  ///< what happened
    std::uint16_t code = 0;       ///< the close code received (close) or to send (violation)
    Bytes payload;                ///< a ping's or pong's payload, valid until the next read()
    std::string_view text;        ///< the close text to send (violation; a literal)
    std::string_view violation;   ///< the rule broken, for summaries (violation; a literal)
};

/// The frame decoder of one WebSocket connection: the header being read, the progress of the
/// payload and of the data message. Small on purpose: it lives as long as the connection.
class WebSocketFrameReader {
public:
    /// A reader of `source`'s frames.
    explicit WebSocketFrameReader(FrameSource source);
    ~WebSocketFrameReader();

    /// Reads frames from `wire`, appending data payload to `up`, until `wire` is used up, a
    /// control frame is whole or a rule is broken; `wire` keeps what was not read. A data
    /// message over `max_message_bytes`, summed over its fragments, breaks a rule (1009); the
    /// limit is the caller's, who keeps it anyway, so that a connection stores it once (pass the
    /// same one every time). Call again after ping and pong; after close and violation the
    /// connection is done reading.
    WebSocketFrameEvent read(Bytes& wire, ByteBuffer& up, std::uint64_t max_message_bytes);
    /// The payload kept of a control frame split across reads.
    std::size_t held_bytes() const;

private:
    using Event = WebSocketFrameEvent;

    /// Moves bytes from `wire` into header_ until it holds `wanted`.
    void fill_header(Bytes& wire, std::size_t wanted);
    Event take_header(Bytes& wire, std::uint64_t max_message_bytes);
    Event check_start();
    Event check_header(std::uint64_t max_message_bytes);
    void take_payload(Bytes& wire, ByteBuffer& up);
    Event finish_frame();
    Event take_close(Bytes payload);
    Event fail(std::uint16_t code, std::string_view text, std::string_view violation);
    std::uint8_t opcode() const { return header_[0] & 0x0f; }
    std::size_t header_size() const;
    std::uint64_t frame_length() const;

    std::unique_ptr<std::byte[]> control_;   // payload of a control frame being read, or read
    std::uint64_t payload_left_ = 0;         // bytes of the current frame's payload not read yet
    std::uint64_t message_bytes_ = 0;        // bytes of the data message in progress
    std::array<std::uint8_t, 14> header_{};  // the current frame's header, mask last
    std::uint8_t header_have_ = 0;
    FrameSource source_;
    bool in_message_ = false;  // a data message was started and has not ended
    bool in_payload_ = false;  // the header is complete, payload_left_ counts
};

}  // namespace dinx::node
