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

std::size_t FrameReader::partial_missing() const {
    if (partial_.size() < frame_header_size) return frame_header_size - partial_.size();
    auto header = read_frame_header(partial_.data());
    return frame_header_size + header.data_len - partial_.size();
}

FeedStatus FrameReader::fill_partial(Bytes& chunk) {
    // First complete the header, then (once its length is checked) the body.
    while (!chunk.empty()) {
        std::size_t take = std::min(partial_missing(), chunk.size());
        if (take == 0) break;
        bool had_header = partial_.size() >= frame_header_size;
        append(partial_, chunk.first(take));
        chunk = chunk.subspan(take);
        if (!had_header && partial_.size() >= frame_header_size &&
            too_big(read_frame_header(partial_.data())))
            return FeedStatus::oversized;
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
