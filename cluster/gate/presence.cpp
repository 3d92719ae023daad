#include "cluster/gate/presence.hpp"

#include "cluster/api/origin.hpp"
#include "cluster/api/session.hpp"

#include <cstring>

namespace dinx::cluster {
namespace {

template <class Int>
void put(ByteBuffer& out, Int value) {
    for (std::size_t i = 0; i < sizeof(Int); ++i)
        out.push_back(std::byte(static_cast<std::uint8_t>(value >> (8 * i))));
}

template <class Int>
bool get(Bytes in, std::size_t& at, Int& value) {
    if (in.size() - at < sizeof(Int)) return false;
    value = 0;
    for (std::size_t i = 0; i < sizeof(Int); ++i)
        value |= Int(std::to_integer<std::uint8_t>(in[at + i])) << (8 * i);
    at += sizeof(Int);
    return true;
}

void put_text(ByteBuffer& out, const std::string& text) {
    put(out, static_cast<std::uint16_t>(text.size()));
    append(out, as_bytes(text));
}

bool get_text(Bytes in, std::size_t& at, std::size_t limit, std::string& text) {
    std::uint16_t size = 0;
    if (!get(in, at, size) || size > limit || in.size() - at < size) return false;
    text.assign(as_text(in.subspan(at, size)));
    at += size;
    return true;
}

}  // namespace

void append_presence(ByteBuffer& batch, const PresenceUpdate& update) {
    put(batch, static_cast<std::uint8_t>(update.op));
    put(batch, update.conn_id);
    put(batch, update.epoch);
    put_text(batch, update.uid);
    put_text(batch, update.room);
}

std::optional<std::vector<PresenceUpdate>> read_presence(Bytes batch) {
    std::vector<PresenceUpdate> updates;
    for (std::size_t at = 0; at < batch.size();) {
        PresenceUpdate update;
        std::uint8_t op = 0;
        if (!get(batch, at, op) || op < std::uint8_t(PresenceOp::reset) ||
            op > std::uint8_t(PresenceOp::leave))
            return std::nullopt;
        update.op = PresenceOp(op);
        if (!get(batch, at, update.conn_id) || !get(batch, at, update.epoch) ||
            !get_text(batch, at, max_uid_size, update.uid) ||
            !get_text(batch, at, max_room_name, update.room))
            return std::nullopt;
        updates.push_back(std::move(update));
    }
    return updates;
}

void append_multicast(ByteBuffer& out, const std::vector<std::uint64_t>& conn_ids, Bytes data) {
    put(out, static_cast<std::uint32_t>(conn_ids.size()));
    for (auto id : conn_ids) put(out, id);
    append(out, data);
}

std::optional<std::pair<std::vector<std::uint64_t>, Bytes>> read_multicast(Bytes payload) {
    std::size_t at = 0;
    std::uint32_t count = 0;
    if (!get(payload, at, count) || (payload.size() - at) / 8 < count) return std::nullopt;
    std::vector<std::uint64_t> ids(count);
    for (auto& id : ids) get(payload, at, id);
    return std::pair{std::move(ids), payload.subspan(at)};
}

}  // namespace dinx::cluster
