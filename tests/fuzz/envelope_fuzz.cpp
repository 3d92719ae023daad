// libFuzzer target: the envelope decoder, fed what a link could carry. Anything it accepts must
// encode back to an envelope that decodes to the same fields.

#include "cluster/link/envelope.hpp"

#include <cstdint>
#include <cstdlib>
#include <cstring>

using namespace dinx;
using namespace dinx::cluster;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    std::uint32_t kind = data[0] % 16;  // known kinds and a few unknown ones
    Bytes body{reinterpret_cast<const std::byte*>(data + 1), size - 1};
    auto envelope = read_envelope(kind, body);
    if (!envelope) return 0;
    if (envelope->origin.uid.size() > max_uid_size) std::abort();
    if (envelope->payload.data() < body.data() ||
        envelope->payload.data() + envelope->payload.size() > body.data() + body.size())
        std::abort();  // the payload view must lie inside the frame
    ByteBuffer again;
    write_envelope(again, *envelope);
    auto copy = read_envelope(kind, again);
    if (!copy || copy->seq != envelope->seq || copy->msg_id != envelope->msg_id ||
        copy->via != envelope->via || copy->origin.gate_id != envelope->origin.gate_id ||
        copy->origin.conn_id != envelope->origin.conn_id ||
        copy->origin.uid != envelope->origin.uid ||
        copy->payload.size() != envelope->payload.size() ||
        std::memcmp(copy->payload.data(), envelope->payload.data(), copy->payload.size()) != 0)
        std::abort();
    return 0;
}
