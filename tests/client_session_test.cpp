// A client session over a transport that is not TCP: frames handed in by the test, frames sent
// recorded. What the gate does with a client (events in order, back-pressure, half-close,
// timeouts) must hold over any FramedTransport, which is what a TLS or WebSocket transport
// relies on.

#include "cluster/gate/client_session.hpp"
#include "cluster/runtime/drain.hpp"
#include "node/frame_codec.hpp"

#include <doctest/doctest.h>
#include <asio/io_context.hpp>

#include <deque>
#include <memory>
#include <string>
#include <utility>
#include <vector>

using namespace dinx;
using namespace dinx::cluster;
using namespace std::chrono_literals;

namespace {

/// Frames in from the test, frames out into `sent`; everything happens at once.
class MemoryTransport final : public node::FramedTransport {
public:
    explicit MemoryTransport(asio::io_context& io) : io_(io) {}

    /// The peer sends one frame: delivered now, or kept while reading is paused.
    void deliver(std::uint32_t msg_id, std::string payload) {
        held_.emplace_back(msg_id, std::move(payload));
        deliver_held();
    }
    /// The peer shuts down its sending side.
    void finish_sending() {
        peer_finished_ = true;
        if (!sink_->on_peer_finished()) end("peer closed");
    }

    void start(std::shared_ptr<node::FrameSink> sink) override { sink_ = std::move(sink); }
    void send(std::uint32_t msg_id, Bytes payload) override {
        sent.emplace_back(msg_id, std::string(as_text(payload)));
    }
    void send_shared(const node::SharedBytes&) override {}
    void send_written(std::uint32_t msg_id, node::BodyWriter write_body) override {
        ByteBuffer body;
        write_body(body);
        send(msg_id, body);
    }
    void close(std::string reason, std::string_view violation = {}) override {
        if (!open_) return;
        closed_locally_ = true;
        note_ending(std::move(reason), violation);
        end({});
    }
    void close_after_flush(std::string reason) override { close(std::move(reason)); }
    void notify_when_flushed(std::function<void()> flushed) override { flushed(); }
    void set_max_frame_len(std::uint32_t) override {}
    void release_idle_buffers() override {}
    void charge_memory(std::int64_t) override {}
    asio::any_io_executor executor() override { return io_.get_executor(); }
    asio::ip::address remote_address() const override { return {}; }
    std::string remote() const override { return "memory"; }
    std::size_t unread_bytes() const override { return 0; }
    std::size_t queued_bytes() const override { return 0; }
    bool has_partial_frame() const override { return false; }
    bool has_held_frames() const override { return !held_.empty(); }

    std::vector<std::pair<std::uint32_t, std::string>> sent;  ///< frames sent, in order

private:
    void reading_may_resume() override { deliver_held(); }
    void deliver_held() {
        while (open_ && !reading_paused() && !held_.empty()) {
            auto [msg_id, payload] = std::move(held_.front());
            held_.pop_front();
            heard_ = true;
            bytes_read_ += node::frame_header_size + payload.size();
            ++frames_read_;
            if (!sink_->on_frame(msg_id, as_bytes(payload))) break;
        }
    }
    void end(std::string reason) {
        if (!reason.empty()) note_ending(std::move(reason));
        open_ = false;
        auto sink = std::move(sink_);  // as a real transport: kept alive until reported
        sink->on_closed();
    }

    asio::io_context& io_;
    std::deque<std::pair<std::uint32_t, std::string>> held_;
};

/// Records what a shard would hear.
struct Recorder final : ClientEvents {
    void on_client_frame(ClientSession&, std::uint32_t msg_id, Bytes payload) override {
        frames.push_back(std::to_string(msg_id) + " " + std::string(as_text(payload)));
    }
    void on_first_client_frame(ClientSession&) override { ++first_frames; }
    void on_client_closed(ClientSession& session) override {
        closes.push_back(session.transport().close_reason());
    }
    std::vector<std::string> frames;
    int first_frames = 0;
    std::vector<std::string> closes;
};

struct Fixture {
    Fixture() {
        rules.gate_id = 1;
        rules.max_in_flight = 2;
        rules.max_in_flight_bytes = 1 << 20;
        rules.idle_timeout = 1000ms;
        rules.frame_timeout = 1000ms;
        rules.first_frame_timeout = 500ms;
        rules.events = &events;
        rules.drain = &drain;
        auto owned = std::make_shared<MemoryTransport>(io);
        transport = owned.get();
        session = std::make_shared<ClientSession>(rules, std::move(owned), 7, start);
        ClientSession::start(session);
    }
    // An open transport keeps its session alive (as a real one does): close it, or it leaks.
    ~Fixture() { session->close("test over"); }

    asio::io_context io;
    Recorder events;
    Drain drain;
    ClientRules rules;
    ClientSession::Clock::time_point start = ClientSession::Clock::now();
    MemoryTransport* transport = nullptr;
    std::shared_ptr<ClientSession> session;
};

}  // namespace

TEST_CASE("a session over any transport hears its frames in order and its close once") {
    Fixture f;
    f.transport->deliver(3, "a");
    f.transport->deliver(4, "b");
    CHECK(f.events.frames == std::vector<std::string>{"3 a", "4 b"});
    CHECK(f.events.first_frames == 1);
    f.session->send(3, as_bytes("reply"));
    CHECK(f.transport->sent == std::vector<std::pair<std::uint32_t, std::string>>{{3, "reply"}});
    f.session->close("kicked");
    CHECK(f.events.closes == std::vector<std::string>{"kicked"});
    CHECK_FALSE(f.session->is_open());
    f.session->close("again");
    CHECK(f.events.closes.size() == 1);
}

TEST_CASE("too many requests in flight pause reading, and answers resume it in order") {
    Fixture f;
    f.session->begin_request(1);
    f.session->begin_request(1);  // max_in_flight = 2
    CHECK(f.transport->paused_for(node::pause_for_owner));
    f.transport->deliver(3, "waits");
    CHECK(f.events.frames.empty());
    CHECK(f.transport->has_held_frames());
    f.session->end_request(1);
    CHECK_FALSE(f.transport->reading_paused());
    CHECK(f.events.frames == std::vector<std::string>{"3 waits"});
}

TEST_CASE("a client that finished sending is answered, then closed") {
    Fixture f;
    f.transport->deliver(3, "last");
    f.session->begin_request(4);
    f.transport->finish_sending();
    CHECK(f.session->is_open());  // a request is still owed its answer
    f.session->end_request(4);
    CHECK(f.events.closes == std::vector<std::string>{"peer closed"});
}

TEST_CASE("the clock-driven rules close a silent client with the rule it broke") {
    Fixture f;
    f.session->check_timeouts(f.start + 100ms);
    CHECK(f.session->is_open());
    f.session->check_timeouts(f.start + 600ms);  // no frame within first_frame_timeout
    REQUIRE(f.events.closes.size() == 1);
    CHECK(f.transport->violation() == "sent no complete frame after connecting");
}

TEST_CASE("a client that sent a frame and then nothing is closed after the idle timeout") {
    Fixture f;
    f.transport->deliver(3, "hello");
    f.session->check_timeouts(f.start + 500ms);  // heard since the last check
    CHECK(f.session->is_open());
    f.session->check_timeouts(f.start + 1400ms);
    CHECK(f.session->is_open());  // silent for 900 ms only
    f.session->check_timeouts(f.start + 1600ms);
    REQUIRE(f.events.closes.size() == 1);
    CHECK(f.events.closes[0].starts_with("sent nothing for"));
}
