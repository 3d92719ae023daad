// The zinx TLV codec: byte layout, pipelined frames, frames split across reads, empty payloads,
// oversized headers.

#include "node/frame_codec.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace dinx;
using namespace dinx::node;

namespace {

struct Seen {
    std::uint32_t msg_id;
    std::string payload;
    bool operator==(const Seen&) const = default;
};

ByteBuffer frame(std::uint32_t msg_id, std::string_view payload) {
    ByteBuffer out;
    append_frame(out, msg_id, as_bytes(payload));
    return out;
}

// Feeds `stream` in chunks of `chunk` bytes and collects every frame.
std::vector<Seen> decode_in_chunks(const ByteBuffer& stream, std::size_t chunk,
                                   std::uint32_t max_len = 1024) {
    FrameReader reader(max_len);
    std::vector<Seen> seen;
    for (std::size_t at = 0; at < stream.size(); at += chunk) {
        auto piece = Bytes{stream}.subspan(at, std::min(chunk, stream.size() - at));
        auto status = reader.feed(piece, [&](std::uint32_t id, Bytes data) {
            seen.push_back({id, std::string(as_text(data))});
            return true;
        });
        REQUIRE(status == FeedStatus::ok);
    }
    CHECK(reader.pending_bytes() == 0);
    return seen;
}

}  // namespace

TEST_CASE("a frame is msgID then dataLen, both u32 big-endian, then the data (zinx TLV)") {
    auto bytes = frame(1, "hello");
    const unsigned char expected[] = {0, 0, 0, 1, 0, 0, 0, 5, 'h', 'e', 'l', 'l', 'o'};
    REQUIRE(bytes.size() == sizeof expected);
    for (std::size_t i = 0; i < sizeof expected; ++i) CHECK(bytes[i] == std::byte(expected[i]));

    auto header = read_frame_header(frame(0x01020304, std::string(0x0506, 'x')).data());
    CHECK(header.msg_id == 0x01020304u);
    CHECK(header.data_len == 0x0506u);
}

TEST_CASE("pipelined frames in one read are all decoded, in order") {
    ByteBuffer stream;
    for (std::uint32_t i = 0; i < 50; ++i) append(stream, frame(i, "m" + std::to_string(i)));
    auto seen = decode_in_chunks(stream, stream.size());
    REQUIRE(seen.size() == 50);
    for (std::uint32_t i = 0; i < 50; ++i) CHECK(seen[i] == Seen{i, "m" + std::to_string(i)});
}

TEST_CASE("a frame split across reads is decoded once, whatever the split") {
    ByteBuffer stream = frame(7, "split me");
    append(stream, frame(8, "and me"));
    for (std::size_t chunk = 1; chunk <= stream.size(); ++chunk) {
        CAPTURE(chunk);
        auto seen = decode_in_chunks(stream, chunk);
        CHECK(seen == std::vector<Seen>{{7, "split me"}, {8, "and me"}});
    }
}

TEST_CASE("an empty payload is a frame of its own") {
    ByteBuffer stream = frame(2, "");
    append(stream, frame(3, "x"));
    append(stream, frame(4, ""));
    for (std::size_t chunk : {1, 3, 8, 100}) {
        CAPTURE(chunk);
        CHECK(decode_in_chunks(stream, chunk) == std::vector<Seen>{{2, ""}, {3, "x"}, {4, ""}});
    }
}

TEST_CASE("a dataLen above the limit is refused before anything is allocated") {
    FrameReader reader(16);
    ByteBuffer stream = frame(1, "ok");
    ByteBuffer hostile(frame_header_size);
    write_frame_header(hostile.data(), {9, 0xFFFF'FFFF});  // 4 GiB announced, nothing sent
    append(stream, hostile);
    std::vector<std::uint32_t> ids;
    auto status = reader.feed(stream, [&](std::uint32_t id, Bytes) {
        ids.push_back(id);
        return true;
    });
    CHECK(status == FeedStatus::oversized);
    CHECK(reader.refused_len() == 0xFFFF'FFFFu);
    CHECK(ids == std::vector<std::uint32_t>{1});  // frames before it were still delivered
    CHECK(reader.pending_bytes() <= frame_header_size);
}

TEST_CASE("an oversized header split across reads is refused once its length is known") {
    FrameReader reader(16);
    ByteBuffer hostile(frame_header_size);
    write_frame_header(hostile.data(), {9, 17});
    auto ignore = [](std::uint32_t, Bytes) { return true; };
    CHECK(reader.feed(Bytes{hostile}.first(5), ignore) == FeedStatus::ok);
    CHECK(reader.feed(Bytes{hostile}.subspan(5), ignore) == FeedStatus::oversized);
}

TEST_CASE("a frame exactly at the limit is accepted") {
    auto seen = decode_in_chunks(frame(5, std::string(16, 'a')), 7, 16);
    CHECK(seen == std::vector<Seen>{{5, std::string(16, 'a')}});
}

TEST_CASE("a callback returning false stops decoding") {
    FrameReader reader(64);
    ByteBuffer stream = frame(1, "a");
    append(stream, frame(2, "b"));
    int calls = 0;
    auto status = reader.feed(stream, [&](std::uint32_t, Bytes) { return ++calls < 1; });
    CHECK(status == FeedStatus::stopped);
    CHECK(calls == 1);
}

// ---- other layouts (FrameFormat) -----------------------------------------------------------

namespace {

/// A game's own layout: [magic 0xD1][msgID u16 big-endian][dataLen u24 big-endian].
class GameFormat final : public FrameFormat {
public:
    std::size_t header_size() const override { return 6; }
    bool read_header(const std::byte* h, FrameHeader& out) const override {
        if (h[0] != std::byte{0xD1}) return false;
        out.msg_id = (std::uint32_t(h[1]) << 8) | std::uint32_t(h[2]);
        out.data_len =
            (std::uint32_t(h[3]) << 16) | (std::uint32_t(h[4]) << 8) | std::uint32_t(h[5]);
        return true;
    }
    void write_header(std::byte* h, FrameHeader header) const override {
        h[0] = std::byte{0xD1};
        h[1] = std::byte(header.msg_id >> 8);
        h[2] = std::byte(header.msg_id);
        h[3] = std::byte(header.data_len >> 16);
        h[4] = std::byte(header.data_len >> 8);
        h[5] = std::byte(header.data_len);
    }
    std::string_view name() const override { return "game"; }
};

/// Every frame of `stream` in `format`, fed `chunk` bytes at a time, and the last status.
std::pair<std::vector<Seen>, FeedStatus> decode_format(const FrameFormat& format,
                                                       const ByteBuffer& stream,
                                                       std::size_t chunk) {
    FrameReader reader(64, &format);
    std::vector<Seen> seen;
    FeedStatus status = FeedStatus::ok;
    for (std::size_t at = 0; at < stream.size() && status == FeedStatus::ok; at += chunk) {
        auto piece = Bytes{stream}.subspan(at, std::min(chunk, stream.size() - at));
        status = reader.feed(piece, [&](std::uint32_t id, Bytes data) {
            seen.push_back({id, std::string(as_text(data))});
            return true;
        });
    }
    return {seen, status};
}

}  // namespace

TEST_CASE("zinx LTV is length then msgID, both little-endian") {
    ByteBuffer out;
    append_frame(out, ltv_format(), 0x01020304, as_bytes("hi"));
    ByteBuffer expected{std::byte{2}, std::byte{0}, std::byte{0}, std::byte{0},   std::byte{4},
                        std::byte{3}, std::byte{2}, std::byte{1}, std::byte{'h'}, std::byte{'i'}};
    CHECK(out == expected);
    for (std::size_t chunk : {1, 3, 100}) {
        auto [seen, status] = decode_format(ltv_format(), out, chunk);
        CHECK(status == FeedStatus::ok);
        CHECK(seen == std::vector<Seen>{{0x01020304, "hi"}});
    }
}

TEST_CASE("a game's own layout is read at any cut, and a bad header is malformed") {
    GameFormat game;
    ByteBuffer stream;
    append_frame(stream, game, 7, as_bytes("first"));
    append_frame(stream, game, 300, as_bytes(""));
    append_frame(stream, game, 9, as_bytes("third"));
    for (std::size_t chunk = 1; chunk <= stream.size(); ++chunk) {
        auto [seen, status] = decode_format(game, stream, chunk);
        CHECK(status == FeedStatus::ok);
        CHECK(seen == std::vector<Seen>{{7, "first"}, {300, ""}, {9, "third"}});
    }
    ByteBuffer bad = stream;
    bad[0] = std::byte{0x00};
    CHECK(decode_format(game, bad, 1).second == FeedStatus::malformed);
    CHECK(decode_format(game, bad, bad.size()).second == FeedStatus::malformed);
    ByteBuffer big;
    append_frame(big, game, 1, as_bytes(std::string(65, 'x')));
    CHECK(decode_format(game, big, 2).second == FeedStatus::oversized);
}
