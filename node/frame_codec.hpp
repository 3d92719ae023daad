#pragma once
// The zinx TLV frame: [msgID u32 big-endian][dataLen u32 big-endian][data].
// The same framing carries client messages and node-to-node envelopes. A client listener may
// choose another layout (FrameFormat): zinx's little-endian LTV, or a game's own.

#include "node/bytes.hpp"

#include <cstdint>
#include <string_view>
#include <utility>

namespace dinx::node {

/// Size of a frame header: msgID then dataLen, both u32 big-endian.
inline constexpr std::size_t frame_header_size = 8;

/// A decoded frame header.
struct FrameHeader {
    std::uint32_t msg_id = 0;    ///< message id, first on the wire
    std::uint32_t data_len = 0;  ///< payload length that follows the header
};

/// Reads a header from 8 bytes.
FrameHeader read_frame_header(const std::byte* header);
/// Writes a header into 8 bytes.
void write_frame_header(std::byte* out, FrameHeader header);
/// Appends one whole frame to `out`.
void append_frame(ByteBuffer& out, std::uint32_t msg_id, Bytes payload);

/// Largest header a FrameFormat may have.
inline constexpr std::size_t max_frame_header_size = 32;

/// How a client listener lays frames out: a fixed-size header that holds the msgID and the
/// length of the body that follows. A game with a protocol of its own implements it (and
/// registers it by name, see cluster/api/app.hpp), so its existing clients keep working.
/// A header of fixed size is what lets frames be cut without copying and be written in place;
/// fields of the header other than these two (a magic, flags) are the format's own business.
class FrameFormat {
public:
    virtual ~FrameFormat() = default;
    /// Bytes in every header, 1 to max_frame_header_size.
    virtual std::size_t header_size() const = 0;
    /// Reads the header at `header` (header_size() bytes) into `out`; false when the bytes are
    /// not a header of this format (the connection is then closed as hostile).
    virtual bool read_header(const std::byte* header, FrameHeader& out) const = 0;
    /// Writes the header of a frame into `out` (header_size() bytes).
    virtual void write_header(std::byte* out, FrameHeader header) const = 0;
    /// The format's name as written in dinx.toml (`framing = "tlv"`).
    virtual std::string_view name() const = 0;
};

/// zinx TLV, big-endian: [msgID u32][dataLen u32] (the default, and what links use).
const FrameFormat& tlv_format();
/// zinx's little-endian LTV: [dataLen u32][msgID u32], as zinx's default DataPack writes it.
const FrameFormat& ltv_format();
/// Appends one whole frame laid out by `format` to `out`.
void append_frame(ByteBuffer& out, const FrameFormat& format, std::uint32_t msg_id, Bytes payload);

/// What FrameReader::feed saw.
enum class FeedStatus {
    ok,         ///< every complete frame was delivered; any tail is kept for the next feed
    oversized,  ///< a header announced more than the limit: the peer is hostile, close it
    malformed,  ///< bytes that are not a header of the format: the peer is hostile, close it
    stopped,    ///< the frame callback asked to stop; the undelivered bytes are kept
};

/// Splits a byte stream into frames. Frames are delivered straight from the caller's chunk
/// when they lie whole in it; only a frame split across reads is copied, so an idle reader
/// holds no buffer. A callback may stop the delivery (its connection paused reading): what was
/// not delivered is kept, and the next feed (an empty chunk will do) delivers it first.
class FrameReader {
public:
    /// `max_data_len` is the largest dataLen accepted; anything larger is `oversized`. Frames
    /// are zinx TLV unless `format` says otherwise (it must outlive the reader).
    explicit FrameReader(std::uint32_t max_data_len, const FrameFormat* format = nullptr)
        : max_data_len_(max_data_len),
          format_(format == &tlv_format() ? nullptr : format),
          header_size_(format_ ? static_cast<std::uint32_t>(format_->header_size())
                               : static_cast<std::uint32_t>(frame_header_size)) {}

    /// Decodes every complete frame of what was kept from earlier feeds, then of `chunk`.
    /// `on_frame(msg_id, payload)` returns false to stop; the payload view is valid only during
    /// the call.
    template <class OnFrame>
    FeedStatus feed(Bytes chunk, OnFrame&& on_frame);

    /// dataLen of the frame that was refused as oversized.
    std::uint32_t refused_len() const { return refused_len_; }
    /// Changes the largest dataLen accepted from now on.
    void set_max_data_len(std::uint32_t max_data_len) { max_data_len_ = max_data_len; }
    /// Bytes kept from an incomplete frame.
    std::size_t pending_bytes() const { return partial_.size(); }
    /// True while bytes of a frame whose end has not arrived are kept.
    bool has_partial_frame() const { return !partial_.empty(); }
    /// True while bytes a stopped delivery left undelivered are kept.
    bool has_held_bytes() const { return !held_.empty(); }
    /// Memory the reader holds (both kept buffers), for accounting.
    std::size_t held_capacity() const { return partial_.capacity() + held_.capacity(); }

private:
    /// The frames of one chunk; on a stop, the rest of the chunk is moved to held_.
    template <class OnFrame>
    FeedStatus feed_chunk(Bytes chunk, OnFrame& on_frame);
    /// Moves bytes from `chunk` into partial_ until it holds one whole frame or chunk is used up.
    FeedStatus fill_partial(Bytes& chunk);
    /// Bytes still missing from the frame in partial_ (0 when complete).
    std::size_t partial_missing() const;
    /// Reads the header at `at` (TLV inline; another format through its virtual call), and
    /// says whether it is acceptable.
    FeedStatus read_header(const std::byte* at, FrameHeader& header) {
        if (!format_)
            header = read_frame_header(at);
        else if (!format_->read_header(at, header))
            return FeedStatus::malformed;
        if (header.data_len <= max_data_len_) return FeedStatus::ok;
        refused_len_ = header.data_len;
        return FeedStatus::oversized;
    }
    void release_partial();
    /// Keeps `rest` (after a stop) ahead of anything fed later.
    void hold(Bytes rest);

    std::uint32_t max_data_len_;
    const FrameFormat* format_;  // nullptr: zinx TLV, read inline (the path links and most use)
    std::uint32_t header_size_;
    std::uint32_t refused_len_ = 0;
    ByteBuffer partial_;
    ByteBuffer held_;  // bytes left undelivered by a stop, delivered first by the next feed
};

template <class OnFrame>
FeedStatus FrameReader::feed(Bytes chunk, OnFrame&& on_frame) {
    if (!held_.empty()) {
        ByteBuffer held = std::exchange(held_, {});
        auto status = feed_chunk(Bytes{held}, on_frame);
        if (status != FeedStatus::ok) {
            hold(chunk);  // after what the stop kept of `held`
            return status;
        }
    }
    return feed_chunk(chunk, on_frame);
}

template <class OnFrame>
FeedStatus FrameReader::feed_chunk(Bytes chunk, OnFrame& on_frame) {
    if (!partial_.empty()) {
        if (auto status = fill_partial(chunk); status != FeedStatus::ok) return status;
        if (partial_missing() > 0) return FeedStatus::ok;
        FrameHeader header;
        read_header(partial_.data(), header);  // checked when it was completed
        bool go_on = on_frame(header.msg_id, Bytes{partial_}.subspan(header_size_));
        release_partial();
        if (!go_on) {
            hold(chunk);
            return FeedStatus::stopped;
        }
    }
    while (chunk.size() >= header_size_) {
        FrameHeader header;
        if (auto status = read_header(chunk.data(), header); status != FeedStatus::ok)
            return status;
        std::size_t frame_size = header_size_ + header.data_len;
        if (chunk.size() < frame_size) break;
        bool go_on = on_frame(header.msg_id, chunk.subspan(header_size_, header.data_len));
        chunk = chunk.subspan(frame_size);
        if (!go_on) {
            hold(chunk);
            return FeedStatus::stopped;
        }
    }
    return fill_partial(chunk);
}

}  // namespace dinx::node
