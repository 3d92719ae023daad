// Loopback integration tests: real gates and backends in this process on port 0, spoken to by
// real TCP clients.

#include "cluster/link/envelope.hpp"
#include "cluster/link/link_handshake.hpp"
#include "cluster/rpc/error_frame.hpp"
#include "demo/handlers.hpp"
#include "node/frame_codec.hpp"
#include "support/fake_node.hpp"
#include "support/test_cluster.hpp"

#include <doctest/doctest.h>

#include <future>
#include <regex>
#include <set>
#include <thread>

using namespace dinx;
using namespace dinx::test;
using namespace std::chrono_literals;
using dinx::dict::NodeType;

namespace {

// gate-1 (id 1) + im-1 (id 2) + im-2 (id 3), each in its own process.
struct DemoCluster {
    TestCluster cluster{
        make_config({gate(1, "gate-1"), backend(2, "im-1"), backend(3, "im-2")}, demo_routes())};
    DemoCluster() {
        cluster.start({2});
        cluster.start({3});
        cluster.start({1});
    }
};

// gate-1 (id 1) and im-1 (id 2), the only node of group im, with the demo's routes.
dict::Config gate_and_im1() {
    return make_config({gate(1, "gate-1"), backend(2, "im-1")}, demo_routes());
}

// gate-1 (id 1) and im-1 (id 2), the only node of group im, in two processes.
struct OneBackend {
    TestCluster cluster{gate_and_im1()};
    OneBackend() {
        cluster.start({2});
        cluster.start({1});
    }
};

bool matches(const std::string& text, const std::string& pattern) {
    return std::regex_match(text, std::regex(pattern));
}

// Sends one request and returns the first frame back.
node::Frame ask(node::BlockingClient& client, std::uint32_t msg_id, std::string_view payload) {
    client.send(msg_id, payload);
    return next_frame(client);
}

bool is_error(const node::Frame& frame, std::string_view code, std::uint32_t msg_id) {
    return frame.msg_id == 0xFFFF'FFFF &&
           frame.payload.find("\"code\": \"" + std::string(code) + "\"") != std::string::npos &&
           frame.payload.find("\"msg_id\": " + std::to_string(msg_id) + ",") != std::string::npos;
}

// The conn id the gate gave this client.
std::uint64_t conn_id_of(node::BlockingClient& client) {
    auto frame = ask(client, whoami, "");
    return std::stoull(frame.payload.substr(frame.payload.find(' ') + 1));
}

}  // namespace

TEST_CASE("the demo conversation: login, send, broadcast, relay, logout") {
    DemoCluster demo;
    auto client = demo.cluster.connect(1);
    CHECK(ask(*client, demo::login, "alice").payload == "welcome alice");
    auto sent = ask(*client, demo::send, "hello");
    CHECK(sent.msg_id == demo::send);
    CHECK(matches(sent.payload, "im-[12]: hello"));
    auto broadcast = ask(*client, demo::broadcast, "hi all");
    CHECK(broadcast.msg_id == demo::broadcast);
    CHECK(broadcast.payload == "alice: hi all");
    auto relayed = ask(*client, demo::relay, "ping");
    CHECK(relayed.msg_id == demo::relay);
    CHECK((relayed.payload == "im-1 via im-2: ping" || relayed.payload == "im-2 via im-1: ping"));
    CHECK(ask(*client, demo::logout, "").payload == "bye alice");
    auto guest = ask(*client, demo::broadcast, "again");
    CHECK(matches(guest.payload, "guest-[0-9]+: again"));
}

TEST_CASE("1000 pipelined requests are answered in order by one node") {
    DemoCluster demo;
    auto client = demo.cluster.connect(1);
    ByteBuffer burst;
    for (int i = 0; i < 1000; ++i)
        node::append_frame(burst, demo::send, as_bytes(std::to_string(i)));
    client->send_raw(burst);
    std::set<std::string> nodes;
    for (int i = 0; i < 1000; ++i) {
        auto frame = next_frame(*client);
        REQUIRE(frame.msg_id == demo::send);
        auto colon = frame.payload.find(": ");
        nodes.insert(frame.payload.substr(0, colon));
        REQUIRE(frame.payload.substr(colon + 2) == std::to_string(i));
    }
    CHECK(nodes.size() == 1);
}

TEST_CASE("clients spread over both nodes of a group and each stays on its node") {
    DemoCluster demo;
    std::set<std::string> used;
    for (int c = 0; c < 16; ++c) {
        auto client = demo.cluster.connect(1);
        auto first = ask(*client, demo::send, "x").payload;
        for (int i = 0; i < 5; ++i) CHECK(ask(*client, demo::send, "x").payload == first);
        used.insert(first);
    }
    CHECK(used == std::set<std::string>{"im-1: x", "im-2: x"});
}

TEST_CASE("a broadcast reaches every client of two gates, the sender included") {
    TestCluster cluster(
        make_config({gate(1, "gate-1"), gate(4, "gate-2"), backend(2, "im-1")}, demo_routes()));
    cluster.start({2});
    cluster.start({1});
    cluster.start({4});
    auto alice = cluster.connect(1);
    auto bob = cluster.connect(4);
    auto carol = cluster.connect(1);
    CHECK(ask(*alice, demo::login, "alice").payload == "welcome alice");
    alice->send(demo::broadcast, "hi all");
    for (auto* client : {alice.get(), bob.get(), carol.get()}) {
        auto frame = next_frame(*client);
        CHECK(frame.msg_id == demo::broadcast);
        CHECK(frame.payload == "alice: hi all");
    }
}

TEST_CASE("a broadcast from a handler on the gate reaches the other gate too") {
    auto routes = demo_routes();
    routes[demo::broadcast] = "gate";
    TestCluster cluster(
        make_config({gate(1, "gate-1"), gate(4, "gate-2"), backend(2, "im-1")}, routes));
    cluster.start({1, 4, 2});
    auto alice = cluster.connect(1);
    auto bob = cluster.connect(4);
    alice->send(demo::broadcast, "from the gate");
    CHECK(matches(next_frame(*alice).payload, "guest-[0-9]+: from the gate"));
    CHECK(matches(next_frame(*bob).payload, "guest-[0-9]+: from the gate"));
}

TEST_CASE("a relay with one node in the group comes back to that node") {
    TestCluster cluster(gate_and_im1());
    cluster.start({1, 2});
    auto client = cluster.connect(1);
    CHECK(ask(*client, demo::relay, "ping").payload == "im-1 via im-1: ping");
}

TEST_CASE("a relay skips a dead peer and comes back to the first node") {
    DemoCluster demo;
    demo.cluster.stop(3);
    // Clients whose sticky node is im-2 fail over to im-1; every relay ends on im-1.
    for (int c = 0; c < 4; ++c) {
        auto client = demo.cluster.connect(1);
        CHECK(ask(*client, demo::relay, "ping").payload == "im-1 via im-1: ping");
    }
}

TEST_CASE("moving a msgID to the gate's group in the routes needs no code change") {
    auto routes = demo_routes();
    routes[demo::send] = "gate";
    TestCluster cluster(make_config({gate(1, "gate-1"), backend(2, "im-1")}, routes));
    cluster.start({1, 2});
    auto client = cluster.connect(1);
    CHECK(ask(*client, demo::send, "hello").payload == "gate-1: hello");
}

TEST_CASE("a uid bound on a backend is applied on the gate before its reply reaches the client") {
    auto routes = demo_routes();
    routes[demo::login] = "im";
    routes[demo::logout] = "im";
    routes[demo::broadcast] = "gate";  // a gate handler reads the gate's own session copy
    TestCluster cluster(
        make_config({gate(1, "gate-1"), backend(2, "im-1"), backend(3, "im-2")}, routes));
    cluster.start({1, 2, 3});
    auto client = cluster.connect(1);
    CHECK(ask(*client, demo::login, "alice").payload == "welcome alice");
    CHECK(ask(*client, demo::broadcast, "after login").payload == "alice: after login");
    CHECK(ask(*client, demo::logout, "").payload == "bye alice");
    CHECK(matches(ask(*client, demo::broadcast, "after logout").payload,
                  "guest-[0-9]+: after logout"));
}

TEST_CASE("a handler sends to another client by gate id and conn id") {
    DemoCluster demo;
    auto alice = demo.cluster.connect(1);
    auto bob = demo.cluster.connect(1);
    auto bob_id = conn_id_of(*bob);
    alice->send(whisper, std::to_string(bob_id) + " psst");
    auto frame = next_frame(*bob);
    CHECK(frame.msg_id == whisper);
    CHECK(frame.payload == "psst");
}

TEST_CASE("a msgID with no route gets a no_route error frame") {
    DemoCluster demo;
    auto client = demo.cluster.connect(1);
    auto frame = ask(*client, 999, "x");
    CHECK(is_error(frame, "no_route", 999));
    CHECK(ask(*client, demo::send, "still here").msg_id == demo::send);
}

TEST_CASE("the error msgID is configurable") {
    auto config = gate_and_im1();
    config.settings.error_msg_id = 9000;
    TestCluster cluster(config);
    cluster.start({1, 2});
    auto client = cluster.connect(1);
    CHECK(ask(*client, 999, "x").msg_id == 9000);
}

TEST_CASE("empty payloads and frames split byte by byte reach the handler") {
    DemoCluster demo;
    auto client = demo.cluster.connect(1);
    CHECK(matches(ask(*client, demo::send, "").payload, "im-[12]: "));
    ByteBuffer frame;
    node::append_frame(frame, demo::send, as_bytes("split"));
    for (auto byte : frame) client->send_raw(Bytes{&byte, 1});
    CHECK(matches(next_frame(*client).payload, "im-[12]: split"));
}

TEST_CASE("clients beyond max_connections are closed at once, and admitted when room is made") {
    auto config = gate_and_im1();
    config.settings.max_connections = 2;
    TestCluster cluster(config);
    cluster.start({1, 2});
    auto first = cluster.connect(1);
    auto second = cluster.connect(1);
    CHECK(ask(*first, demo::send, "1").msg_id == demo::send);
    CHECK(ask(*second, demo::send, "2").msg_id == demo::send);
    auto third = cluster.connect(1);
    CHECK_FALSE(third->receive(frame_timeout));
    CHECK(third->closed());
    CHECK(ask(*first, demo::send, "still 1").msg_id == demo::send);
    first.reset();  // makes room once the gate has seen it go
    auto deadline = std::chrono::steady_clock::now() + 5s;
    bool admitted = false;
    while (!admitted && std::chrono::steady_clock::now() < deadline) {
        auto again = cluster.connect(1);
        again->send(demo::send, "3");
        admitted = again->receive(1s).has_value();
    }
    CHECK(admitted);
}

TEST_CASE("an oversized frame closes that connection only") {
    auto config = gate_and_im1();
    config.settings.max_packet_size = 1024;
    TestCluster cluster(config);
    cluster.start({1, 2});
    auto hostile = cluster.connect(1);
    auto honest = cluster.connect(1);
    hostile->send(demo::send, std::string(1025, 'x'));
    CHECK_FALSE(hostile->receive(frame_timeout));
    CHECK(hostile->closed());
    CHECK(ask(*honest, demo::send, std::string(1024, 'y')).msg_id == demo::send);
}

TEST_CASE("a reply may be larger than what clients may send, up to the envelope limit") {
    auto config = gate_and_im1();
    config.settings.max_packet_size = 1024;
    TestCluster cluster(config);
    cluster.start({1, 2});
    auto client = cluster.connect(1);
    auto frame = ask(*client, big, "100000");
    CHECK(frame.msg_id == big);
    CHECK(frame.payload == std::string(100000, 'b'));
    auto too_big = ask(*client, big, std::to_string(cluster::max_envelope_payload + 1));
    CHECK(is_error(too_big, "handler_error", big));
    CHECK(ask(*client, demo::send, "link still up").payload == "im-1: link still up");
}

TEST_CASE_FIXTURE(OneBackend,
                  "every request gets unavailable once the group's only backend stops") {
    auto client = cluster.connect(1);
    CHECK(ask(*client, demo::send, "up").payload == "im-1: up");
    cluster.stop(2);
    auto started = std::chrono::steady_clock::now();
    for (int i = 0; i < 3; ++i) client->send(demo::send, "down");
    for (int i = 0; i < 3; ++i) CHECK(is_error(next_frame(*client), "unavailable", demo::send));
    CHECK(std::chrono::steady_clock::now() - started < 5s);
}

TEST_CASE_FIXTURE(OneBackend, "a restarted backend is used again without restarting the gate") {
    auto client = cluster.connect(1);
    CHECK(ask(*client, demo::send, "before").payload == "im-1: before");
    cluster.stop(2);
    CHECK(is_error(ask(*client, demo::send, "gone"), "unavailable", demo::send));
    cluster.start({2});  // same port: the address book remembers it
    // The gate backs off between dials; ask until the back-off lets a dial through.
    auto deadline = std::chrono::steady_clock::now() + 10s;
    std::string reply;
    while (reply != "im-1: again" && std::chrono::steady_clock::now() < deadline) {
        auto frame = ask(*client, demo::send, "again");
        reply = frame.payload;
        if (frame.msg_id != demo::send) std::this_thread::sleep_for(100ms);
    }
    CHECK(reply == "im-1: again");
}

TEST_CASE("requests in flight on a dropped link get outcome_unknown, in order") {
    TestCluster cluster(gate_and_im1());
    FakeNode fake(2);
    cluster.addresses().set_link_port(2, fake.port());
    cluster.start({1}, 1);
    auto client = cluster.connect(1);
    for (int i = 0; i < 5; ++i) client->send(demo::send, std::to_string(i));
    REQUIRE(fake.wait_for_requests(5, 5s));
    fake.drop();
    // They reached the peer, which may have run them: not `unavailable`, which means "did not".
    for (int i = 0; i < 5; ++i) {
        auto frame = next_frame(*client);
        CHECK(is_error(frame, "outcome_unknown", demo::send));
    }
}

TEST_CASE("a peer that never answers the handshake gives unavailable within 5 seconds") {
    auto config = gate_and_im1();
    config.settings.connect_timeout_ms = 1000;
    TestCluster cluster(config);
    FakeNode silent(2, FakeNode::Mode::silent);
    cluster.addresses().set_link_port(2, silent.port());
    cluster.start({1});
    auto client = cluster.connect(1);
    auto started = std::chrono::steady_clock::now();
    CHECK(is_error(ask(*client, demo::send, "x"), "unavailable", demo::send));
    CHECK(std::chrono::steady_clock::now() - started < 5s);
}

TEST_CASE("while a failed node is dialed again in the background, its clients use its peers") {
    auto config =
        make_config({gate(1, "gate-1"), backend(2, "im-1"), backend(3, "im-2")}, demo_routes());
    config.settings.connect_timeout_ms = 1000;
    config.settings.reconnect_min_ms = 1;  // dial im-2 again as often as we ask
    config.settings.reconnect_max_ms = 1;
    TestCluster cluster(config);
    FakeNode silent(3, FakeNode::Mode::silent);  // im-2 accepts but never answers
    cluster.addresses().set_link_port(3, silent.port());
    cluster.start({2});
    cluster.start({1}, 1);
    // The first requests for im-2 wait for its dial to time out, then go to im-1.
    std::vector<std::unique_ptr<node::BlockingClient>> clients;
    for (int c = 0; c < 8; ++c) clients.push_back(cluster.connect(1));
    for (auto& client : clients) CHECK(ask(*client, demo::send, "x").payload == "im-1: x");
    // From then on no request waits for the dials that keep trying im-2.
    for (int round = 0; round < 3; ++round) {
        for (auto& client : clients) {
            auto started = std::chrono::steady_clock::now();
            CHECK(ask(*client, demo::send, "y").payload == "im-1: y");
            CHECK(std::chrono::steady_clock::now() - started < 500ms);
        }
    }
}

TEST_CASE("a peer that stops answering is declared dead within 3 heartbeat intervals") {
    constexpr auto interval = 300ms;
    auto config =
        make_config({gate(1, "gate-1"), backend(2, "im-1"), backend(3, "im-2")}, demo_routes());
    config.settings.heartbeat_interval_ms = interval.count();
    TestCluster cluster(config);
    FakeNode mute(2);  // links up, then never says a word: like a SIGSTOPped node
    cluster.addresses().set_link_port(2, mute.port());
    cluster.start({3});
    cluster.start({1}, 1);
    std::vector<std::unique_ptr<node::BlockingClient>> clients;
    for (int c = 0; c < 12; ++c) clients.push_back(cluster.connect(1));
    auto sent = std::chrono::steady_clock::now();
    for (auto& client : clients) client->send(demo::send, "x");
    int unknown = 0;
    for (auto& client : clients) {
        auto frame = next_frame(*client);
        if (frame.msg_id == demo::send) {
            CHECK(frame.payload == "im-2: x");
        } else {
            // Sent to a peer that then fell silent: it may have run them.
            CHECK(is_error(frame, "outcome_unknown", demo::send));
            ++unknown;
        }
    }
    auto elapsed = std::chrono::steady_clock::now() - sent;
    CHECK(unknown > 0);                     // some clients were sticky to im-1
    CHECK(elapsed < 3 * interval + 500ms);  // (plus slack for a busy machine)
    // The balancer now sends im-1's clients to im-2.
    for (auto& client : clients) CHECK(ask(*client, demo::send, "y").payload == "im-2: y");
}

TEST_CASE(
    "a client silent for the idle timeout is disconnected, and heartbeats, answered, keep it") {
    auto config = gate_and_im1();
    config.settings.client_idle_timeout_ms = 300;
    TestCluster cluster(config);
    cluster.start({1, 2});
    auto silent = cluster.connect(1);
    auto beating = cluster.connect(1);
    auto started = std::chrono::steady_clock::now();
    // The beating client sends the zinx heartbeat msgID every 100 ms and gets it back, as a
    // zinx client's heartbeat checker needs.
    for (int beat = 0; std::chrono::steady_clock::now() - started < 1200ms; ++beat) {
        auto payload = "heartbeat " + std::to_string(beat);
        beating->send(config.settings.heartbeat_msg_id, payload);
        auto answer = next_frame(*beating);
        CHECK(answer.msg_id == config.settings.heartbeat_msg_id);
        CHECK(answer.payload == payload);
        std::this_thread::sleep_for(100ms);  // the pace of a heartbeat, not a wait for an event
    }
    CHECK_FALSE(beating->closed());
    CHECK(ask(*beating, demo::send, "alive").payload == "im-1: alive");
    CHECK_FALSE(silent->receive(1s));
    CHECK(silent->closed());
}

TEST_CASE("while its node drains, a client's next request waits for its earlier one") {
    auto config =
        make_config({gate(1, "gate-1"), backend(2, "im-1"), backend(3, "im-2")}, demo_routes());
    TestCluster cluster(config);
    FakeNode draining(2);  // answers only when told, like a slow node in a drain
    cluster.addresses().set_link_port(2, draining.port());
    cluster.start({3});
    cluster.start({1}, 1);
    // Find a client whose requests go to im-1 (the fake).
    std::unique_ptr<node::BlockingClient> client;
    for (int tries = 0; !client; ++tries) {
        REQUIRE(tries < 32);
        auto candidate = cluster.connect(1);
        candidate->send(demo::send, "first");
        if (draining.wait_for_requests(1, 300ms))
            client = std::move(candidate);
        else
            CHECK(next_frame(*candidate).payload == "im-2: first");
    }
    draining.send_leaving();
    REQUIRE(draining.wait_for_leaving_ack(5s));
    // im-1 takes no new request; its first one is still unanswered, so this one waits.
    client->send(demo::send, "second");
    CHECK_FALSE(client->receive(500ms));
    draining.reply_all("im-1: first");
    CHECK(next_frame(*client).payload == "im-1: first");
    CHECK(next_frame(*client).payload == "im-2: second");
}

TEST_CASE("a client that does not read is disconnected and the others go on") {
    auto config = gate_and_im1();
    config.settings.client_send_queue_bytes = 256 * 1024;
    TestCluster cluster(config);
    cluster.start({1, 2});
    auto reader = cluster.connect(1);
    auto stalled = cluster.connect(1);
    // 30 MB of replies: more than the kernel buffers plus the 256 KiB queue.
    for (int i = 0; i < 500; ++i) stalled->send(big, "60000");
    CHECK(ask(*reader, demo::send, "fine").payload == "im-1: fine");
    // Drain what the kernel buffered; the gate must have closed the connection behind it.
    auto deadline = std::chrono::steady_clock::now() + 10s;
    int frames = 0;
    while (!stalled->closed() && std::chrono::steady_clock::now() < deadline)
        frames += stalled->receive(1s).has_value();
    CHECK(stalled->closed());
    CHECK(frames < 500);
    CHECK(ask(*reader, demo::send, "still fine").payload == "im-1: still fine");
}

TEST_CASE("requests for a peer that does not keep up get overloaded at once") {
    auto config = gate_and_im1();
    config.settings.link_queue_bytes = 64 * 1024;
    TestCluster cluster(config);
    FakeNode stuck(2, FakeNode::Mode::stop_reading);
    cluster.addresses().set_link_port(2, stuck.port());
    cluster.start({1}, 1);
    // One request per client (so none waits behind its own earlier one): 300 x 60 KB.
    std::vector<std::unique_ptr<node::BlockingClient>> clients;
    std::string payload(60000, 'p');
    for (int c = 0; c < 300; ++c) {
        clients.push_back(cluster.connect(1));
        clients.back()->send(demo::send, payload);
    }
    // While the peer is stuck, the requests beyond the link's queue are answered already.
    std::vector<bool> answered(clients.size());
    int overloaded = 0;
    for (std::size_t c = 0; c < clients.size(); ++c) {
        if (auto frame = clients[c]->receive(20ms)) {
            CHECK(is_error(*frame, "overloaded", demo::send));
            overloaded += answered[c] = true;
        }
    }
    CHECK(overloaded > 0);
    stuck.drop();  // what was queued for it now fails; every client has one answer
    // Still queued here: `unavailable`; handed to the kernel, which the peer may have read:
    // `outcome_unknown`.
    for (std::size_t c = 0; c < clients.size(); ++c) {
        if (answered[c]) continue;
        auto frame = next_frame(*clients[c]);
        CHECK((is_error(frame, "unavailable", demo::send) ||
               is_error(frame, "outcome_unknown", demo::send) ||
               is_error(frame, "overloaded", demo::send)));
    }
    for (auto& client : clients) CHECK_FALSE(client->receive(10ms));  // and only one
}

TEST_CASE("a draining gate refuses new requests in their turn, after the ones in flight") {
    auto config = gate_and_im1();
    TestCluster cluster(config);
    FakeNode slow(2);  // answers only when told
    cluster.addresses().set_link_port(2, slow.port());
    cluster.start({1}, 1);
    auto client = cluster.connect(1);
    client->send(demo::send, "first");
    REQUIRE(slow.wait_for_requests(1, 5s));
    auto drained = std::async(std::launch::async, [&] { return cluster.process_of(1).drain(5s); });
    REQUIRE(slow.wait_for_leaving(5s));   // the fake never acks, so the drain waits...
    client->send(demo::send, "second");   // ...and this arrives during it
    CHECK_FALSE(client->receive(300ms));  // refused, but not before "first" is answered
    slow.reply_all("im-1: first");
    CHECK(next_frame(*client).payload == "im-1: first");
    auto refused = next_frame(*client);
    CHECK(is_error(refused, "unavailable", demo::send));
    CHECK(refused.payload.find("the gate is stopping") != std::string::npos);
    slow.drop();  // the fake leaves: nothing is owed any more
    CHECK(drained.get());
}

TEST_CASE("a draining gate answers what clients sent before it began, accepted yet or not") {
    TestCluster cluster(gate_and_im1());
    cluster.start({2});
    cluster.start({1}, 1);
    auto early = cluster.connect(1);
    CHECK(ask(*early, demo::send, "hello").payload == "im-1: hello");  // accepted and read
    // The gate's only io thread is held, so what happens next waits in the kernel.
    std::promise<void> held, release;
    auto released = release.get_future().share();
    cluster.process_of(1).node(1).post_to_shard(0, [&held, released](cluster::NodeShard&) {
        held.set_value();
        released.wait();
    });
    held.get_future().wait();
    auto late = cluster.connect(1);  // in the listen backlog, not accepted
    for (auto* client : {early.get(), late.get()})
        for (int i = 0; i < 3; ++i) client->send(demo::send, std::to_string(i));
    auto drained = std::async(std::launch::async, [&] { return cluster.process_of(1).drain(5s); });
    release.set_value();
    // Each request gets one answer, in order: its reply, or (once the drain began on the
    // gate's thread) an error, never a reply after an error.
    for (auto* client : {early.get(), late.get()}) {
        bool refused = false;
        for (int i = 0; i < 3; ++i) {
            auto frame = next_frame(*client);
            if (is_error(frame, "unavailable", demo::send)) {
                refused = true;
            } else {
                CHECK_FALSE(refused);
                CHECK(frame.payload == "im-1: " + std::to_string(i));
            }
        }
    }
    CHECK(drained.get());
}

TEST_CASE("a client cannot speak envelopes: on the client port they are client messages") {
    DemoCluster demo;
    auto client = demo.cluster.connect(1);
    // A forged "session" envelope binding uid mallory, sent as a client frame.
    cluster::Envelope forged{cluster::EnvelopeKind::session, 0, {1, 1, "mallory"}, 0, 0, {}};
    ByteBuffer body;
    cluster::write_envelope(body, forged);
    auto session_kind = std::uint32_t(cluster::EnvelopeKind::session);
    client->send(session_kind, body);
    // That msgID has no route: it is a client message like any other.
    CHECK(is_error(next_frame(*client), "no_route", session_kind));
    CHECK(matches(ask(*client, demo::broadcast, "me").payload, "guest-[0-9]+: me"));
}

TEST_CASE("a link port refuses anything but a hello from a node of the config") {
    DemoCluster demo;
    auto link_port = demo.cluster.addresses().link_address(1)->port;
    SUBCASE("a client frame") {
        node::BlockingClient intruder("127.0.0.1", link_port);
        intruder.send(demo::login, "alice");
        CHECK_FALSE(intruder.receive(frame_timeout));
        CHECK(intruder.closed());
    }
    SUBCASE("a hello from an unknown node id") {
        node::BlockingClient intruder("127.0.0.1", link_port);
        ByteBuffer body;
        cluster::write_envelope(body,
                                cluster::Envelope{cluster::EnvelopeKind::hello, 0, {}, 0, 99, {}});
        intruder.send(std::uint32_t(cluster::EnvelopeKind::hello), body);
        CHECK_FALSE(intruder.receive(frame_timeout));
        CHECK(intruder.closed());
    }
    auto client = demo.cluster.connect(1);
    CHECK(ask(*client, demo::send, "fine").msg_id == demo::send);
}

namespace {

// Dials a link port as node `id` knowing `secret`, always sending a proof (a forged one when
// the secret is wrong), and reports whether the node brought the link up.
bool link_accepted(std::uint16_t port, std::uint32_t id, const std::string& secret) {
    node::BlockingClient dialer("127.0.0.1", port);
    cluster::LinkHandshake handshake(cluster::LinkRole::dialed, id, 1, secret,
                                     [](std::uint32_t) { return true; });
    auto send = [&](cluster::EnvelopeKind kind, Bytes payload) {
        ByteBuffer body;
        cluster::write_envelope(body, cluster::Envelope{kind, 0, {}, 0, id, payload});
        dialer.send(std::uint32_t(kind), body);
    };
    auto hello = handshake.start();
    send(hello->kind, hello->payload);
    auto challenge_frame = dialer.receive(frame_timeout);
    REQUIRE(challenge_frame);
    auto challenge =
        cluster::read_envelope(challenge_frame->msg_id, as_bytes(challenge_frame->payload));
    REQUIRE(challenge);
    // Each payload opens with its sender's offer (version, feature bits), then its nonce.
    auto proof = cluster::link_proof(
        secret, cluster::LinkSide::dialer, id, 1, cluster::link_offer_at(hello->payload, 0),
        cluster::link_offer_at(challenge->payload, 0),
        cluster::auth_bytes_at(hello->payload, cluster::link_offer_size),
        cluster::auth_bytes_at(challenge->payload, cluster::link_offer_size));
    send(cluster::EnvelopeKind::proof, Bytes{proof.data(), proof.size()});
    auto ack = dialer.receive(frame_timeout);
    return ack && ack->msg_id == std::uint32_t(cluster::EnvelopeKind::hello_ack);
}

}  // namespace

TEST_CASE("a link that proves the cluster secret is accepted, one that does not is closed") {
    auto config = gate_and_im1();
    config.settings.secret = "correct horse battery staple";
    TestCluster cluster(config);
    cluster.start({1});
    auto link_port = cluster.addresses().link_address(1)->port;
    CHECK(link_accepted(link_port, 2, "correct horse battery staple"));
    CHECK_FALSE(link_accepted(link_port, 2, "wrong horse"));
}

TEST_CASE("nodes sharing a secret route as usual") {
    auto config =
        make_config({gate(1, "gate-1"), backend(2, "im-1"), backend(3, "im-2")}, demo_routes());
    config.settings.secret = "shared secret of this cluster";
    TestCluster cluster(config);
    cluster.start({2, 3});
    cluster.start({1});
    auto client = cluster.connect(1);
    CHECK(matches(ask(*client, demo::relay, "r").payload, "im-[12] via im-[12]: r"));
}

TEST_CASE("all nodes in one process with one io thread still route everything") {
    TestCluster cluster(
        make_config({gate(1, "gate-1"), backend(2, "im-1"), backend(3, "im-2")}, demo_routes()));
    cluster.start({1, 2, 3}, 1);
    auto client = cluster.connect(1);
    CHECK(ask(*client, demo::login, "solo").payload == "welcome solo");
    CHECK(matches(ask(*client, demo::relay, "r").payload, "im-[12] via im-[12]: r"));
}
