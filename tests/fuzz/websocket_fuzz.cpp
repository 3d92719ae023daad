// libFuzzer target: the WebSocket wire layer, request head then frames. The input is a byte
// stream cut into reads at places the input itself chooses; a flag puts a valid upgrade request
// in front, so that most runs reach the frame decoder. Whatever the cuts, the layer must give
// the same frame stream, replies and verdict as when it gets the whole stream at once, produce
// nothing once it has ended, and keep no memory beyond a split control frame once open.
// Another flag reads the stream as a server's frames, with the frame reader the client layer
// uses, under the same rule: the same events and frame stream whatever the cuts.

#include "node/websocket_frame_reader.hpp"
#include "node/websocket_layer.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

using namespace dinx;

namespace {

constexpr std::string_view upgrade_request =
    "GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
    "Origin: http://a\r\nSec-WebSocket-Protocol: zinx\r\n\r\n";

// Small limits, so that the fuzzer reaches them.
std::shared_ptr<const node::WebSocketOptions> make_options() {
    node::WebSocketOptions options;
    options.path = "/ws";
    options.allowed_origins = {"http://a"};
    options.subprotocol = "zinx";
    options.max_message_bytes = 300;
    options.max_handshake_bytes = 512;
    options.pages = std::make_shared<const node::StaticPages>(
        node::StaticPages{{"/", {"text/html", "<p>page</p>"}}});
    return std::make_shared<const node::WebSocketOptions>(std::move(options));
}

const auto options = make_options();

struct Outcome {
    ByteBuffer up;
    ByteBuffer reply;
    bool open = true;
    std::string reason;
    std::string_view violation;

    bool operator==(const Outcome&) const = default;
};

void require(bool condition) {
    if (!condition) std::abort();
}

// What a transport may still call on a layer after the last read: none of it may write once
// the layer ended, and an open layer frames exactly what it is given.
void check_after(node::WebSocketLayer& layer, const Outcome& outcome) {
    ByteBuffer wire;
    if (!outcome.open) {
        layer.wrap_out(as_bytes("abc"), wire);
        layer.probe(wire);
        layer.say_goodbye(wire);
        require(wire.empty() && layer.held_bytes() == 0);
        return;
    }
    if (!layer.handshake_done()) {
        // The head never grows past its limit (a string may double its capacity once).
        require(layer.held_bytes() <= 2 * options->max_handshake_bytes + 256);
        return;
    }
    require(layer.held_bytes() <= 125);
    layer.wrap_out(as_bytes("abc"), wire);
    require(wire.size() == 5);
    layer.probe(wire);
    require(wire.size() == 7);
    layer.say_goodbye(wire);
    require(wire.size() == 7 + 2 + 2 + 10);  // close 1001 "going away"
    layer.wrap_out(as_bytes("abc"), wire);
    layer.probe(wire);
    require(wire.size() == 21);
}

Outcome run(Bytes stream, const std::vector<std::size_t>& cuts, bool early) {
    node::WebSocketLayer layer(options);
    if (early) {
        ByteBuffer wire;
        layer.wrap_out(as_bytes("early"), wire);
        require(wire.empty());  // kept until the 101 answer
    }
    Outcome outcome;
    std::size_t at = 0;
    auto feed = [&](std::size_t end) {
        ByteBuffer up, reply;
        auto verdict = layer.take_in(stream.subspan(at, end - at), up, reply);
        at = end;
        if (!outcome.open) {
            require(!verdict.keep_open && up.empty() && reply.empty());
            return;
        }
        require(verdict.keep_open || !verdict.reason.empty());
        append(outcome.up, up);
        append(outcome.reply, reply);
        if (verdict.keep_open) return;
        outcome.open = false;
        outcome.reason = std::move(verdict.reason);
        outcome.violation = verdict.violation;
    };
    for (auto cut : cuts) feed(cut);
    feed(stream.size());
    require(outcome.up.size() <= stream.size());
    check_after(layer, outcome);
    return outcome;
}

// What the client's reader made of a stream: the frame stream and each event, written out.
struct ReaderOutcome {
    ByteBuffer up;
    std::string events;
    bool done = false;  // a close or a violation ended the reading

    bool operator==(const ReaderOutcome&) const = default;
};

void note(std::string& events, const node::WebSocketFrameEvent& event) {
    events += std::to_string(static_cast<int>(event.kind)) + " " + std::to_string(event.code) +
              " [" + std::string{as_text(event.payload)} + "] " + std::string{event.text} + "|";
}

ReaderOutcome run_reader(Bytes stream, const std::vector<std::size_t>& cuts) {
    using Kind = node::WebSocketFrameEvent::Kind;
    node::WebSocketFrameReader reader(node::FrameSource::server);
    ReaderOutcome outcome;
    std::size_t at = 0;
    auto feed = [&](std::size_t end) {
        Bytes wire = stream.subspan(at, end - at);
        at = end;
        while (!outcome.done) {
            auto event = reader.read(wire, outcome.up, UINT64_MAX);
            if (event.kind == Kind::need_more) break;
            note(outcome.events, event);
            outcome.done = event.kind == Kind::close || event.kind == Kind::violation;
        }
        require(outcome.done || wire.empty());
        require(reader.held_bytes() <= 125);
    };
    for (auto cut : cuts) feed(cut);
    feed(stream.size());
    require(outcome.up.size() <= stream.size());
    if (outcome.done) require(reader.held_bytes() == 0);
    return outcome;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    // The first byte: bit 7 puts the upgrade request in front, bit 6 wraps bytes before the
    // handshake, bit 5 reads server frames instead (neither of the others applies), the low 4
    // bits say how many cuts; the next bytes say where (fractions).
    bool server_frames = (data[0] & 0x20) != 0;
    bool prepend = (data[0] & 0x80) != 0 && !server_frames;
    bool early = (data[0] & 0x40) != 0;
    std::size_t cut_count = std::min<std::size_t>(data[0] % 16, size - 1);
    Bytes rest{reinterpret_cast<const std::byte*>(data + 1 + cut_count), size - 1 - cut_count};
    ByteBuffer stream;
    if (prepend) append(stream, as_bytes(upgrade_request));
    append(stream, rest);
    std::vector<std::size_t> cuts;
    for (std::size_t i = 0; i < cut_count; ++i) cuts.push_back(data[1 + i] * stream.size() / 256);
    std::sort(cuts.begin(), cuts.end());

    if (server_frames) {
        require(run_reader(stream, {}) == run_reader(stream, cuts));
        return 0;
    }
    auto whole = run(stream, {}, early);
    auto pieces = run(stream, cuts, early);
    require(whole == pieces);
    return 0;
}
