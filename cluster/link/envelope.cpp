#include "cluster/link/envelope.hpp"

#include <cereal/archives/portable_binary.hpp>

#include <algorithm>
#include <cstring>
#include <istream>
#include <ostream>
#include <stdexcept>
#include <streambuf>

namespace dinx::cluster {
namespace {

// A streambuf writing into a region the caller reserved: cereal's writes are plain copies into
// the put area, with no virtual call per field.
class RegionBuf : public std::streambuf {
public:
    void target(std::byte* begin, std::size_t size) {
        auto* p = reinterpret_cast<char*>(begin);
        setp(p, p + size);
    }
    std::size_t written() const { return static_cast<std::size_t>(pptr() - pbase()); }

protected:
    // One memcpy per field instead of the generic loop of std::streambuf.
    std::streamsize xsputn(const char* s, std::streamsize n) override {
        n = std::min<std::streamsize>(n, epptr() - pptr());
        if (n <= 0) return 0;  // an empty field may come as a null pointer: no memcpy for it
        std::memcpy(pptr(), s, static_cast<std::size_t>(n));
        pbump(static_cast<int>(n));
        return n;
    }
};

// A streambuf reading a byte view in place; consumed() tells where the payload starts.
class ViewBuf : public std::streambuf {
public:
    void target(Bytes in) {
        auto* begin = const_cast<char*>(reinterpret_cast<const char*>(in.data()));
        setg(begin, begin, begin + in.size());
    }
    std::size_t consumed() const { return static_cast<std::size_t>(gptr() - eback()); }

protected:
    std::streamsize xsgetn(char* s, std::streamsize n) override {
        n = std::min<std::streamsize>(n, egptr() - gptr());
        if (n <= 0) return 0;
        std::memcpy(s, gptr(), static_cast<std::size_t>(n));
        gbump(static_cast<int>(n));
        return n;
    }
};

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

}  // namespace

struct EnvelopeCodec::Archives {
    RegionBuf region;
    ViewBuf view;
    std::ostream out{&region};
    std::istream in{&view};
    std::byte flag_out[1]{};
    // The archives consume their byte-order flag once, here: little-endian on the wire.
    cereal::PortableBinaryOutputArchive writer{
        (region.target(flag_out, 1), out),
        cereal::PortableBinaryOutputArchive::Options::LittleEndian()};
    std::byte flag_in[1]{std::byte{1}};
    cereal::PortableBinaryInputArchive reader{(view.target(Bytes{flag_in, 1}), in)};
};

EnvelopeCodec::EnvelopeCodec() : archives_(std::make_unique<Archives>()) {}

EnvelopeCodec::~EnvelopeCodec() = default;

void EnvelopeCodec::write(ByteBuffer& out, const Envelope& e) {
    check_limits(e);
    auto uid_size = static_cast<std::uint16_t>(e.origin.uid.size());
    std::size_t at = out.size();
    auto values_size = static_cast<std::uint16_t>(e.values.size());
    std::size_t header_size = fixed_header_size + uid_size + values_size;
    out.resize(at + header_size);
    archives_->region.target(out.data() + at, header_size);
    archives_->writer(e.seq, e.origin.gate_id, e.origin.conn_id, e.msg_id, e.via, uid_size);
    archives_->writer(cereal::binary_data(e.origin.uid.data(), uid_size), values_size);
    archives_->writer(cereal::binary_data(e.values.data(), values_size));
    if (archives_->region.written() != header_size) {
        out.resize(at);
        throw std::logic_error("envelope header size mismatch");
    }
    append(out, e.payload);
}

std::optional<Envelope> EnvelopeCodec::read(std::uint32_t frame_msg_id, Bytes body) {
    if (!known_kind(frame_msg_id)) return std::nullopt;
    Envelope e;
    e.kind = EnvelopeKind(frame_msg_id);
    archives_->view.target(body);
    try {
        std::uint16_t uid_size = 0;
        archives_->reader(e.seq, e.origin.gate_id, e.origin.conn_id, e.msg_id, e.via, uid_size);
        // Checked before allocating: the size comes from the wire.
        if (uid_size > max_uid_size) return std::nullopt;
        e.origin.uid.resize(uid_size);
        std::uint16_t values_size = 0;
        archives_->reader(cereal::binary_data(e.origin.uid.data(), uid_size), values_size);
        std::size_t values_at = archives_->view.consumed();
        if (values_size > max_session_bytes || body.size() - values_at < values_size)
            return std::nullopt;
        e.values = body.subspan(values_at, values_size);
        archives_->view.target(body.subspan(values_at + values_size));
        e.payload = body.subspan(values_at + values_size);
        return e;
    } catch (const cereal::Exception&) {
        return std::nullopt;  // truncated header
    }
}

namespace {

EnvelopeCodec& thread_codec() {
    thread_local EnvelopeCodec codec;
    return codec;
}

}  // namespace

void write_envelope(ByteBuffer& out, const Envelope& envelope) {
    thread_codec().write(out, envelope);
}

std::optional<Envelope> read_envelope(std::uint32_t frame_msg_id, Bytes body) {
    return thread_codec().read(frame_msg_id, body);
}

}  // namespace dinx::cluster
