#include "cluster/envelope.hpp"

#include <cereal/archives/portable_binary.hpp>

#include <istream>
#include <ostream>
#include <stdexcept>
#include <streambuf>

namespace dinx::cluster {
namespace {

// A streambuf appending to a ByteBuffer: cereal writes straight into the connection's queue.
class AppendBuf : public std::streambuf {
public:
    void target(ByteBuffer* out) { out_ = out; }

protected:
    std::streamsize xsputn(const char* s, std::streamsize n) override {
        auto* bytes = reinterpret_cast<const std::byte*>(s);
        out_->insert(out_->end(), bytes, bytes + n);
        return n;
    }
    int_type overflow(int_type c) override {
        if (c != traits_type::eof()) out_->push_back(std::byte(c));
        return c;
    }

private:
    ByteBuffer* out_ = nullptr;
};

// A streambuf reading a byte view in place; consumed() tells where the payload starts.
class ViewBuf : public std::streambuf {
public:
    void target(Bytes in) {
        auto* begin = const_cast<char*>(reinterpret_cast<const char*>(in.data()));
        setg(begin, begin, begin + in.size());
    }
    std::size_t consumed() const { return static_cast<std::size_t>(gptr() - eback()); }
};

// Streams are costly to construct; each io thread keeps one of each and re-targets it.
struct ThreadStreams {
    AppendBuf append_buf;
    ViewBuf view_buf;
    std::ostream out{&append_buf};
    std::istream in{&view_buf};
};
thread_local ThreadStreams streams;

template <class Archive>
void save_header(Archive& archive, const Envelope& e) {
    auto uid_size = static_cast<std::uint16_t>(e.origin.uid.size());
    archive(e.seq, e.origin.gate_id, e.origin.conn_id, e.msg_id, e.via, uid_size);
    archive(cereal::binary_data(e.origin.uid.data(), uid_size));
}

template <class Archive>
bool load_header(Archive& archive, Envelope& e) {
    std::uint16_t uid_size = 0;
    archive(e.seq, e.origin.gate_id, e.origin.conn_id, e.msg_id, e.via, uid_size);
    // Checked before allocating: the size comes from the wire.
    if (uid_size > max_uid_size) return false;
    e.origin.uid.resize(uid_size);
    archive(cereal::binary_data(e.origin.uid.data(), uid_size));
    return true;
}

bool known_kind(std::uint32_t kind) {
    return kind >= std::uint32_t(EnvelopeKind::hello) &&
           kind <= std::uint32_t(EnvelopeKind::session);
}

}  // namespace

void write_envelope(ByteBuffer& out, const Envelope& envelope) {
    if (envelope.origin.uid.size() > max_uid_size)
        throw std::length_error("a uid is at most " + std::to_string(max_uid_size) + " bytes");
    if (envelope.payload.size() > max_envelope_payload)
        throw std::length_error("a payload sent to another node is at most " +
                                std::to_string(max_envelope_payload) + " bytes");
    streams.append_buf.target(&out);
    {
        cereal::PortableBinaryOutputArchive archive(streams.out);
        save_header(archive, envelope);
    }
    append(out, envelope.payload);
}

std::optional<Envelope> read_envelope(std::uint32_t frame_msg_id, Bytes body) {
    if (!known_kind(frame_msg_id)) return std::nullopt;
    Envelope envelope;
    envelope.kind = EnvelopeKind(frame_msg_id);
    streams.view_buf.target(body);
    streams.in.clear();
    try {
        cereal::PortableBinaryInputArchive archive(streams.in);
        if (!load_header(archive, envelope)) return std::nullopt;
    } catch (const cereal::Exception&) {
        return std::nullopt;  // truncated header
    }
    envelope.payload = body.subspan(streams.view_buf.consumed());
    return envelope;
}

}  // namespace dinx::cluster
