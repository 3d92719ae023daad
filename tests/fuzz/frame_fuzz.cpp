// libFuzzer target: the client frame decoder. The input is a byte stream, cut into reads at
// places the input itself chooses. Whatever the cuts, the decoder must deliver the same frames
// as when it gets the whole stream at once, never one larger than the limit, and must refuse an
// oversized header at the same point.

#include "node/frame_codec.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <vector>

using namespace dinx;

namespace {

struct Outcome {
    std::vector<std::pair<std::uint32_t, ByteBuffer>> frames;
    node::FeedStatus status = node::FeedStatus::ok;
};

constexpr std::uint32_t max_len = 4096;

Outcome decode(Bytes stream, const std::vector<std::size_t>& cuts) {
    node::FrameReader reader(max_len);
    Outcome outcome;
    std::size_t at = 0;
    auto feed = [&](Bytes chunk) {
        outcome.status = reader.feed(chunk, [&](std::uint32_t id, Bytes payload) {
            if (payload.size() > max_len) std::abort();
            outcome.frames.emplace_back(id, ByteBuffer(payload.begin(), payload.end()));
            return true;
        });
    };
    for (auto cut : cuts) {
        if (outcome.status != node::FeedStatus::ok) break;
        feed(stream.subspan(at, cut - at));
        at = cut;
    }
    if (outcome.status == node::FeedStatus::ok) feed(stream.subspan(at));
    return outcome;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    // The first byte says how many cuts; the next bytes where (as fractions of the stream).
    std::size_t cut_count = std::min<std::size_t>(data[0] % 16, size - 1);
    Bytes stream{reinterpret_cast<const std::byte*>(data + 1 + cut_count), size - 1 - cut_count};
    std::vector<std::size_t> cuts;
    for (std::size_t i = 0; i < cut_count; ++i) cuts.push_back(data[1 + i] * stream.size() / 256);
    std::sort(cuts.begin(), cuts.end());

    auto whole = decode(stream, {});
    auto pieces = decode(stream, cuts);
    if (whole.status != pieces.status || whole.frames != pieces.frames) std::abort();
    return 0;
}
