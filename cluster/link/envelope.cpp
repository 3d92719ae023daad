#include "cluster/link/envelope.hpp"

#include <bit>
#include <cstring>
#include <stdexcept>

namespace dinx::cluster {
namespace {

// seq, gate id, conn id, msg id, via, uid size, values size: the fixed part of every header.
constexpr std::size_t fixed_header_size = 8 + 4 + 8 + 4 + 4 + 2 + 2;

bool known_kind(std::uint32_t kind) {
    return kind >= std::uint32_t(EnvelopeKind::hello) && kind <= std::uint32_t(EnvelopeKind::call_reply);
}

void check_limits(const Envelope& envelope) {
    require_uid_size(envelope.origin.uid);
    if (envelope.values.size() > max_session_bytes)
        throw std::length_error("session values take at most " + std::to_string(max_session_bytes) +
                                " bytes");
    if (envelope.payload.size() > max_envelope_payload)
        throw std::length_error("a payload sent to another node is at most " +
                                std::to_string(max_envelope_payload) + " bytes");
}

/// `value` with its bytes reversed on big-endian machines: the wire is little-endian.
template <class Unsigned>
Unsigned little_endian(Unsigned value) {
    if constexpr (std::endian::native == std::endian::little) {
        return value;
    } else {
        Unsigned swapped = 0;
        for (std::size_t i = 0; i < sizeof value; ++i, value >>= 8)
            swapped = static_cast<Unsigned>((swapped << 8) | (value & 0xff));
        return swapped;
    }
}

/// Writes the header into a region the caller sized, one store per field.
class HeaderWriter {
public:
    explicit HeaderWriter(std::byte* at) : at_(at) {}

    template <class Unsigned>
    void number(Unsigned value) {
        value = little_endian(value);
        std::memcpy(at_, &value, sizeof value);
        at_ += sizeof value;
    }
    void bytes(const void* data, std::size_t size) {
        if (size != 0) std::memcpy(at_, data, size);  // (an empty view may hold a null pointer)
        at_ += size;
    }

private:
    std::byte* at_;
};

/// Reads the header from a received body; every read is checked against the body's end.
class HeaderReader {
public:
    explicit HeaderReader(Bytes body) : body_(body) {}

    template <class Unsigned>
    bool number(Unsigned& value) {
        if (body_.size() - at_ < sizeof value) return false;
        std::memcpy(&value, body_.data() + at_, sizeof value);
        value = little_endian(value);
        at_ += sizeof value;
        return true;
    }
    /// The next `size` bytes as a view, or nullopt past the end.
    std::optional<Bytes> view(std::size_t size) {
        if (body_.size() - at_ < size) return std::nullopt;
        auto part = body_.subspan(at_, size);
        at_ += size;
        return part;
    }
    Bytes rest() const { return body_.subspan(at_); }

private:
    Bytes body_;
    std::size_t at_ = 0;
};

}  // namespace

void write_envelope(ByteBuffer& out, const Envelope& e) {
    check_limits(e);
    auto uid_size = static_cast<std::uint16_t>(e.origin.uid.size());
    auto values_size = static_cast<std::uint16_t>(e.values.size());
    std::size_t at = out.size();
    out.resize(at + fixed_header_size + uid_size + values_size + e.payload.size());
    HeaderWriter header(out.data() + at);
    header.number(e.seq);
    header.number(e.origin.gate_id);
    header.number(e.origin.conn_id);
    header.number(e.msg_id);
    header.number(e.via);
    header.number(uid_size);
    header.bytes(e.origin.uid.data(), uid_size);
    header.number(values_size);
    header.bytes(e.values.data(), values_size);
    header.bytes(e.payload.data(), e.payload.size());
}

std::optional<Envelope> read_envelope(std::uint32_t frame_msg_id, Bytes body) {
    if (!known_kind(frame_msg_id)) return std::nullopt;
    Envelope e;
    e.kind = EnvelopeKind(frame_msg_id);
    HeaderReader header(body);
    std::uint16_t uid_size = 0, values_size = 0;
    if (!header.number(e.seq) || !header.number(e.origin.gate_id) ||
        !header.number(e.origin.conn_id) || !header.number(e.msg_id) || !header.number(e.via) ||
        !header.number(uid_size) || uid_size > max_uid_size)
        return std::nullopt;
    auto uid = header.view(uid_size);
    if (!uid || !header.number(values_size) || values_size > max_session_bytes) return std::nullopt;
    auto values = header.view(values_size);
    if (!values) return std::nullopt;
    if (!uid->empty()) e.origin.uid.assign(reinterpret_cast<const char*>(uid->data()), uid->size());
    e.values = *values;
    e.payload = header.rest();
    return e;
}

}  // namespace dinx::cluster
