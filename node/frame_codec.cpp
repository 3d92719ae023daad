#include "node/frame_codec.hpp"

#include <algorithm>

namespace dinx::node {
namespace {

std::uint32_t load_u32_be(const std::byte* p) {
    return (std::uint32_t(p[0]) << 24) | (std::uint32_t(p[1]) << 16) | (std::uint32_t(p[2]) << 8) |
           std::uint32_t(p[3]);
}

void store_u32_be(std::byte* p, std::uint32_t v) {
    p[0] = std::byte(v >> 24);
    p[1] = std::byte(v >> 16);
    p[2] = std::byte(v >> 8);
    p[3] = std::byte(v);
}

// A kept tail larger than this is freed once its frame is delivered, so that one big
// message does not pin memory on a connection that then goes idle.
constexpr std::size_t kept_capacity = 4096;

}  // namespace

FrameHeader read_frame_header(const std::byte* header) {
    return {load_u32_be(header), load_u32_be(header + 4)};
}

void write_frame_header(std::byte* out, FrameHeader header) {
    store_u32_be(out, header.msg_id);
    store_u32_be(out + 4, header.data_len);
}

void append_frame(ByteBuffer& out, std::uint32_t msg_id, Bytes payload) {
    std::size_t at = out.size();
    out.resize(at + frame_header_size);
    write_frame_header(out.data() + at, {msg_id, static_cast<std::uint32_t>(payload.size())});
    append(out, payload);
}

namespace {

std::uint32_t load_u32_le(const std::byte* p) {
    return std::uint32_t(p[0]) | (std::uint32_t(p[1]) << 8) | (std::uint32_t(p[2]) << 16) |
           (std::uint32_t(p[3]) << 24);
}

void store_u32_le(std::byte* p, std::uint32_t v) {
    p[0] = std::byte(v);
    p[1] = std::byte(v >> 8);
    p[2] = std::byte(v >> 16);
    p[3] = std::byte(v >> 24);
}

class TlvFormat final : public FrameFormat {
public:
    std::size_t header_size() const override { return frame_header_size; }
    bool read_header(const std::byte* header, FrameHeader& out) const override {
        out = read_frame_header(header);
        return true;
    }
    void write_header(std::byte* out, FrameHeader header) const override {
        write_frame_header(out, header);
    }
    std::string_view name() const override { return "tlv"; }
};

class LtvFormat final : public FrameFormat {
public:
    std::size_t header_size() const override { return 8; }
    bool read_header(const std::byte* header, FrameHeader& out) const override {
        out = {load_u32_le(header + 4), load_u32_le(header)};
        return true;
    }
    void write_header(std::byte* out, FrameHeader header) const override {
        store_u32_le(out, header.data_len);
        store_u32_le(out + 4, header.msg_id);
    }
    std::string_view name() const override { return "ltv"; }
};

}  // namespace

const FrameFormat& tlv_format() {
    static const TlvFormat format;
    return format;
}

const FrameFormat& ltv_format() {
    static const LtvFormat format;
    return format;
}

void append_frame(ByteBuffer& out, const FrameFormat& format, std::uint32_t msg_id, Bytes payload) {
    std::size_t at = out.size();
    out.resize(at + format.header_size());
    format.write_header(out.data() + at, {msg_id, static_cast<std::uint32_t>(payload.size())});
    append(out, payload);
}

std::size_t FrameReader::partial_missing() const {
    if (partial_.size() < header_size_) return header_size_ - partial_.size();
    FrameHeader header;
    if (!format_)
        header = read_frame_header(partial_.data());
    else
        format_->read_header(partial_.data(), header);  // checked when it was completed
    return header_size_ + header.data_len - partial_.size();
}

FeedStatus FrameReader::fill_partial(Bytes& chunk) {
    // First complete the header, then (once its length is checked) the body.
    while (!chunk.empty()) {
        std::size_t take = std::min(partial_missing(), chunk.size());
        if (take == 0) break;
        bool had_header = partial_.size() >= header_size_;
        append(partial_, chunk.first(take));
        chunk = chunk.subspan(take);
        if (had_header || partial_.size() < header_size_) continue;
        FrameHeader header;
        if (auto status = read_header(partial_.data(), header); status != FeedStatus::ok)
            return status;
    }
    return FeedStatus::ok;
}

void FrameReader::hold(Bytes rest) {
    append(held_, rest);
}

void FrameReader::release_partial() {
    if (partial_.capacity() > kept_capacity)
        ByteBuffer{}.swap(partial_);
    else
        partial_.clear();
}

}  // namespace dinx::node
