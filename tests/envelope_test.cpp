// Envelopes: what is written is read back, and hostile bodies are refused, not trusted.

#include "cluster/link/envelope.hpp"

#include <doctest/doctest.h>

#include <stdexcept>
#include <string>
#include <vector>

using namespace dinx;
using namespace dinx::cluster;

namespace {

ByteBuffer encode(const Envelope& envelope) {
    ByteBuffer out;
    write_envelope(out, envelope);
    return out;
}

}  // namespace

TEST_CASE("an envelope round-trips every field and its payload") {
    std::string payload = "hello \0 world";
    Envelope sent{EnvelopeKind::request,
                  0x0102030405060708ULL,
                  Origin{7, 0xAABBCCDDEEFFULL, "alice"},
                  0xFFFF'FFFE,
                  42,
                  as_bytes(payload)};
    auto body = encode(sent);
    auto got = read_envelope(std::uint32_t(EnvelopeKind::request), body);
    REQUIRE(got);
    CHECK(got->kind == EnvelopeKind::request);
    CHECK(got->seq == sent.seq);
    CHECK(got->origin.gate_id == 7);
    CHECK(got->origin.conn_id == 0xAABBCCDDEEFFULL);
    CHECK(got->origin.uid == "alice");
    CHECK(got->msg_id == 0xFFFF'FFFEu);
    CHECK(got->via == 42);
    CHECK(as_text(got->payload) == payload);
}

// Links of the previous release wrote the header with cereal's portable-binary archive; these
// are the bytes it wrote for this envelope, so a mixed cluster keeps understanding itself.
TEST_CASE("the header is laid out as the previous releases wrote it: little-endian fields") {
    std::string values = "\x01v", payload = "pay";
    Envelope sent{EnvelopeKind::request,
                  0x0102030405060708ULL,
                  Origin{7, 0xAABBCCDDEEFFULL, "alice"},
                  0x11223344,
                  42,
                  as_bytes(payload),
                  as_bytes(values)};
    const std::vector<unsigned char> expected{
        0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01,  // seq
        0x07, 0x00, 0x00, 0x00,                          // gate id
        0xff, 0xee, 0xdd, 0xcc, 0xbb, 0xaa, 0x00, 0x00,  // conn id
        0x44, 0x33, 0x22, 0x11,                          // msg id
        0x2a, 0x00, 0x00, 0x00,                          // via
        0x05, 0x00, 'a', 'l', 'i', 'c', 'e',             // uid
        0x02, 0x00, 0x01, 'v',                           // session values
        'p', 'a', 'y'};                                  // payload
    auto body = encode(sent);
    CHECK(std::vector<unsigned char>(reinterpret_cast<const unsigned char*>(body.data()),
                                     reinterpret_cast<const unsigned char*>(body.data()) +
                                         body.size()) == expected);
    auto got = read_envelope(std::uint32_t(EnvelopeKind::request), body);
    REQUIRE(got);
    CHECK(as_text(got->values) == values);
}

TEST_CASE("an envelope with an empty payload and uid round-trips") {
    auto body = encode(Envelope{EnvelopeKind::done, 9, {}, 0, 0, {}});
    auto got = read_envelope(std::uint32_t(EnvelopeKind::done), body);
    REQUIRE(got);
    CHECK(got->seq == 9);
    CHECK(got->origin.uid.empty());
    CHECK(got->payload.empty());
}

TEST_CASE("the decoded payload is a view into the frame, not a copy") {
    std::string payload(1000, 'p');
    auto body = encode(Envelope{EnvelopeKind::to_client, 1, {1, 2, ""}, 3, 0, as_bytes(payload)});
    auto got = read_envelope(std::uint32_t(EnvelopeKind::to_client), body);
    REQUIRE(got);
    CHECK(got->payload.data() == body.data() + (body.size() - payload.size()));
}

TEST_CASE("an unknown envelope kind is refused") {
    auto body = encode(Envelope{});
    CHECK_FALSE(read_envelope(0, body));
    CHECK_FALSE(read_envelope(99, body));
}

TEST_CASE("every truncation of an envelope header is refused") {
    auto body = encode(Envelope{EnvelopeKind::session, 1, {1, 2, "bob"}, 0, 0, {}});
    for (std::size_t size = 0; size < body.size(); ++size) {
        CAPTURE(size);
        CHECK_FALSE(read_envelope(std::uint32_t(EnvelopeKind::session), Bytes{body}.first(size)));
    }
}

TEST_CASE("a uid length above the limit is refused before allocating") {
    std::string uid(max_uid_size, 'u');
    auto body = encode(Envelope{EnvelopeKind::session, 1, {1, 2, uid}, 0, 0, {}});
    // The uid length is the u16 right before the uid bytes (then the values' length, u16);
    // make it claim 65535.
    auto at = body.size() - 2 - uid.size() - 2;
    body[at] = std::byte{0xFF};
    body[at + 1] = std::byte{0xFF};
    CHECK_FALSE(read_envelope(std::uint32_t(EnvelopeKind::session), body));
}

TEST_CASE("a request carries its session values, and the payload after them") {
    SessionValues values;
    values.set("level", "7");
    values.set("guild", "red");
    std::string payload = "hi";
    auto body = encode(Envelope{EnvelopeKind::request, 5, {1, 2, "bob"}, 3, 0, as_bytes(payload),
                                values.encoded()});
    auto read = read_envelope(std::uint32_t(EnvelopeKind::request), body);
    REQUIRE(read);
    auto decoded = SessionValues::decode(read->values);
    REQUIRE(decoded);
    CHECK(decoded->get("level") == "7");
    CHECK(decoded->get("guild") == "red");
    CHECK(as_text(read->payload) == "hi");
}

TEST_CASE("a values length beyond the body is refused") {
    SessionValues values;
    values.set("k", "v");
    auto body = encode(
        Envelope{EnvelopeKind::request, 5, {1, 2, ""}, 3, 0, {}, values.encoded()});
    body.resize(body.size() - 1);
    CHECK_FALSE(read_envelope(std::uint32_t(EnvelopeKind::request), body));
}

TEST_CASE("writing a uid above the limit throws") {
    ByteBuffer out;
    Envelope envelope{
        EnvelopeKind::session, 1, {1, 2, std::string(max_uid_size + 1, 'u')}, 0, 0, {}};
    CHECK_THROWS_AS(write_envelope(out, envelope), std::length_error);
}
