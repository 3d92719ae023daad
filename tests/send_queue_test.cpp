// The send queue of a transport: order, partial writes, shared frames, and what memory it keeps.

#include "node/send_queue.hpp"

#include <doctest/doctest.h>

#include <array>
#include <memory>
#include <stdexcept>
#include <string>

using namespace dinx;
using dinx::node::SendQueue;

namespace {

constexpr std::size_t kept = 1024;

// Everything the queue would write now, as one string (what a gathered write sends).
std::string front(const SendQueue& queue) {
    std::array<Bytes, 32> pieces;
    std::size_t offered = 0;
    std::size_t count = queue.gather(pieces, offered);
    std::string out;
    for (std::size_t i = 0; i < count; ++i) out += std::string(as_text(pieces[i]));
    CHECK(out.size() == offered);
    return out;
}

std::string frame(std::uint32_t msg_id, std::string_view payload) {
    ByteBuffer out;
    node::append_frame(out, msg_id, as_bytes(payload));
    return std::string(as_text(out));
}

node::SharedBytes shared_frame(std::uint32_t msg_id, std::string_view payload) {
    auto out = std::make_shared<ByteBuffer>();
    node::append_frame(*out, msg_id, as_bytes(payload));
    return out;
}

void append(SendQueue& queue, std::uint32_t msg_id, std::string_view payload) {
    queue.append(msg_id, as_bytes(payload));
    queue.note_appended(node::frame_header_size + payload.size());
}

}  // namespace

TEST_CASE("frames of its own and shared frames leave in the order they were queued") {
    SendQueue queue(kept);
    append(queue, 1, "a");
    queue.append_shared(shared_frame(2, "shared"));
    append(queue, 3, "b");
    CHECK(front(queue) == frame(1, "a") + frame(2, "shared") + frame(3, "b"));
    CHECK(queue.unsent() == front(queue).size());
}

TEST_CASE("a partial write leaves the rest, across piece boundaries") {
    SendQueue queue(kept);
    append(queue, 1, "first");
    queue.append_shared(shared_frame(2, "second"));
    append(queue, 3, "third");
    auto all = front(queue);
    for (std::size_t written : {3u, 10u, 7u}) {
        queue.consume(written);
        all.erase(0, written);
        CHECK(front(queue) == all);
        CHECK(queue.unsent() == all.size());
    }
    queue.consume(all.size());
    CHECK(queue.unsent() == 0);
    CHECK(front(queue).empty());
}

TEST_CASE("a body writer that throws leaves the queue as it was") {
    SendQueue queue(kept);
    append(queue, 1, "kept");
    auto before = front(queue);
    CHECK_THROWS_AS(queue.append_with(2,
                                      [](ByteBuffer& out) {
                                          out.push_back(std::byte{1});
                                          throw std::runtime_error("encode failed");
                                      }),
                    std::runtime_error);
    CHECK(front(queue) == before);
    auto size = queue.append_with(3, [](ByteBuffer& out) { append(out, as_bytes("body")); });
    queue.note_appended(size);
    CHECK(front(queue) == before + frame(3, "body"));
}

TEST_CASE("a written buffer is kept up to its limit and freed beyond it") {
    SendQueue small(kept);
    append(small, 1, std::string(kept / 2, 'x'));
    small.consume(small.unsent());
    CHECK(small.held_capacity() > 0);  // kept for the next burst
    small.release_idle();
    CHECK(small.held_capacity() == 0);  // an idle transport gives it back

    SendQueue large(kept);
    append(large, 1, std::string(kept * 4, 'x'));
    large.consume(large.unsent());
    CHECK(large.held_capacity() == 0);  // a burst does not pin memory
}

TEST_CASE("clear drops everything, shared frames included") {
    SendQueue queue(kept);
    auto shared = shared_frame(2, "shared");
    append(queue, 1, "a");
    queue.append_shared(shared);
    queue.clear();
    CHECK(queue.unsent() == 0);
    CHECK(queue.held_capacity() == 0);
    CHECK(shared.use_count() == 1);
}
