// Loopback integration tests of what hostile clients and peers try (issue 7): second answers,
// half-closed clients, slow and silent clients, a full gate, and link ports before the
// handshake. Real nodes in this process on port 0, spoken to with plain sockets.

#include "cluster/link/envelope.hpp"
#include "demo/handlers.hpp"
#include "node/frame_codec.hpp"
#include "support/fake_node.hpp"
#include "support/test_cluster.hpp"

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <deque>
#include <set>
#include <thread>

using namespace dinx;
using namespace dinx::test;
using namespace std::chrono_literals;

namespace {

dict::Config gate_and_im1() {
    return make_config({gate(1, "gate-1"), backend(2, "im-1")}, demo_routes());
}

dict::Config gate_and_two_ims() {
    return make_config({gate(1, "gate-1"), backend(2, "im-1"), backend(3, "im-2")}, demo_routes());
}

node::Frame ask(node::BlockingClient& client, std::uint32_t msg_id, std::string_view payload) {
    client.send(msg_id, payload);
    return next_frame(client);
}

/// Waits until `condition()` holds, polling; false after `timeout`.
template <class Condition>
bool eventually(Condition condition, std::chrono::milliseconds timeout = 5s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!condition()) {
        if (std::chrono::steady_clock::now() > deadline) return false;
        std::this_thread::sleep_for(5ms);
    }
    return true;
}

/// A plain TCP connection to 127.0.0.1:port, as an attacker opens it.
class RawSocket {
public:
    explicit RawSocket(std::uint16_t port) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_port = htons(port);
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    }
    ~RawSocket() { ::close(fd_); }
    RawSocket(const RawSocket&) = delete;
    RawSocket& operator=(const RawSocket&) = delete;

    /// Sends bytes as they are.
    void send(Bytes bytes) { (void)!::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL); }
    /// True once the other side closed (EOF or reset) within `timeout`.
    bool closed_within(std::chrono::milliseconds timeout) {
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return false;
        char byte;
        return ::recv(fd_, &byte, 1, MSG_DONTWAIT) <= 0;
    }

private:
    int fd_;
};

/// A frame header announcing `data_len` bytes, and nothing else.
ByteBuffer header_only(std::uint32_t msg_id, std::uint32_t data_len) {
    ByteBuffer header(node::frame_header_size);
    node::write_frame_header(header.data(), {msg_id, data_len});
    return header;
}

}  // namespace

TEST_CASE("a second answer to a request is dropped at the gate and counted, never delivered") {
    TestCluster cluster(gate_and_im1());
    FakeNode twice(2);  // answers every request twice with the same seq
    cluster.addresses().set_link_port(2, twice.port());
    cluster.start({1}, 1);
    auto client = cluster.connect(1);
    for (int i = 0; i < 3; ++i) client->send(demo::send, "x");
    REQUIRE(twice.wait_for_requests(3, 5s));
    twice.reply_all("answer", 2);
    for (int i = 0; i < 3; ++i) CHECK(next_frame(*client).payload == "answer");
    auto& gate = cluster.process_of(1).node(1);
    CHECK(eventually([&] { return gate.late_answers() == 3; }));
    // They were dropped before the count moved: nothing can follow.
    CHECK_FALSE(client->receive(100ms));
}

TEST_CASE("a dialed link its peer closes before the first read fails its request, once") {
    // The peer accepts the gate's dial and closes it at once, while the gate's only io thread
    // is held: the gate's first read of the link, inside the link's start, finds the close.
    int listener = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    REQUIRE(::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    REQUIRE(::listen(listener, 8) == 0);
    REQUIRE(::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length) == 0);

    TestCluster cluster(gate_and_im1());
    cluster.addresses().set_link_port(2, ntohs(address.sin_port));
    cluster.start({1}, 1);
    auto client = cluster.connect(1);
    hold_switch().arm();
    // One write: the gate starts the dial for the first frame, then blocks in the second.
    ByteBuffer both;
    node::append_frame(both, demo::send, as_bytes("x"));
    node::append_frame(both, hold, {});
    client->send_raw(both);
    REQUIRE(hold_switch().wait_until_held(5s));
    pollfd queued{listener, POLLIN, 0};
    REQUIRE(::poll(&queued, 1, 5000) == 1);  // the dial is complete in the kernel
    int accepted = ::accept(listener, nullptr, nullptr);
    REQUIRE(accepted >= 0);
    ::close(accepted);  // a FIN is no connect error: the dial still succeeds
    ::close(listener);
    hold_switch().release();

    std::multiset<std::uint32_t> answers;
    for (int i = 0; i < 2; ++i) answers.insert(next_frame(*client).msg_id);
    CHECK(answers == std::multiset<std::uint32_t>{hold, cluster.error_msg_id()});
    CHECK_FALSE(client->receive(100ms));  // one answer each
}

TEST_CASE("a client that half-closes gets every answer it is owed, then the gate closes") {
    TestCluster cluster(gate_and_two_ims());
    cluster.start({2});
    cluster.start({3});
    cluster.start({1});
    auto client = cluster.connect(1);
    client->send(demo::login, "alice");  // run by the gate itself
    client->send(demo::send, "hello");   // routed to an im node
    client->send(demo::relay, "ping");   // forwarded by one im node to the other
    client->send(whoami, "");
    client->shutdown_write();  // what nc -N does after its last line
    std::vector<std::string> frames;
    while (auto frame = client->receive(5s)) frames.push_back(frame->payload);
    REQUIRE(frames.size() == 4);
    CHECK(frames[0] == "welcome alice");
    CHECK((frames[1] == "im-1: hello" || frames[1] == "im-2: hello"));
    // A relay's answer takes another way than a direct reply: only its content is pinned.
    std::multiset<std::string> rest(frames.begin() + 2, frames.end());
    CHECK((rest.count("im-1 via im-2: ping") + rest.count("im-2 via im-1: ping")) == 1);
    CHECK(client->closed());  // and then the gate closed
}

TEST_CASE("a half-closed client whose requests wait behind a slow node still gets them all") {
    auto config = gate_and_im1();
    TestCluster cluster(config);
    FakeNode slow(2);
    cluster.addresses().set_link_port(2, slow.port());
    cluster.start({1}, 1);
    auto client = cluster.connect(1);
    for (int i = 0; i < 3; ++i) client->send(demo::send, "x");
    client->send(demo::login, "bob");
    client->shutdown_write();
    CHECK(next_frame(*client).payload == "welcome bob");
    REQUIRE(slow.wait_for_requests(3, 5s));
    CHECK_FALSE(client->closed());
    slow.reply_all("late but owed");
    for (int i = 0; i < 3; ++i) CHECK(next_frame(*client).payload == "late but owed");
    CHECK_FALSE(client->receive(5s));
    CHECK(client->closed());
}

TEST_CASE("a frame that does not complete in client_frame_timeout_ms closes its connection only") {
    auto config = gate_and_im1();
    config.settings.client_frame_timeout_ms = 300;
    TestCluster cluster(config);
    cluster.start({1, 2});
    auto trickler = cluster.connect(1);
    auto honest = cluster.connect(1);
    CHECK(ask(*trickler, demo::send, "proven").payload == "im-1: proven");
    auto started = std::chrono::steady_clock::now();
    auto frame = header_only(demo::send, 100);
    trickler->send_raw(frame);
    trickler->send_raw(as_bytes("a"));  // one byte of 100, then nothing
    CHECK_FALSE(trickler->receive(5s));
    CHECK(trickler->closed());
    CHECK(std::chrono::steady_clock::now() - started < 3s);
    CHECK(ask(*honest, demo::send, "fine").payload == "im-1: fine");
}

TEST_CASE("a connection with no complete frame in client_first_frame_timeout_ms is closed") {
    auto config = gate_and_im1();
    config.settings.client_first_frame_timeout_ms = 300;
    TestCluster cluster(config);
    cluster.start({1, 2});
    auto silent = cluster.connect(1);
    auto talker = cluster.connect(1);
    CHECK(ask(*talker, demo::send, "hi").payload == "im-1: hi");
    CHECK_FALSE(silent->receive(5s));
    CHECK(silent->closed());
    std::this_thread::sleep_for(400ms);  // past the limit: a proven client stays
    CHECK(ask(*talker, demo::send, "still").payload == "im-1: still");
}

TEST_CASE("a full gate evicts a connection that never sent a frame to admit a new one") {
    auto config = gate_and_im1();
    config.settings.max_connections = 4;
    TestCluster cluster(config);
    cluster.start({2});
    cluster.start({1}, 1);
    auto proven = cluster.connect(1);
    CHECK(ask(*proven, demo::send, "me").payload == "im-1: me");
    std::vector<std::unique_ptr<node::BlockingClient>> silent;
    for (int i = 0; i < 3; ++i) silent.push_back(cluster.connect(1));
    // The gate holds 4: each next one pushes out a silent one, the oldest first.
    std::vector<std::unique_ptr<node::BlockingClient>> honest;
    for (int i = 0; i < 3; ++i) {
        honest.push_back(cluster.connect(1));
        CHECK(ask(*honest.back(), demo::send, "let me in").payload == "im-1: let me in");
        CHECK_FALSE(silent[i]->receive(5s));
        CHECK(silent[i]->closed());
    }
    CHECK(ask(*proven, demo::send, "still here").payload == "im-1: still here");
}

TEST_CASE("a full gate evicts a silent connection held by another io thread") {
    auto config = gate_and_im1();
    config.settings.max_connections = 4;
    TestCluster cluster(config);
    cluster.start({2});
    cluster.start({1}, 2);  // connections go to its two io threads in turn
    std::vector<std::unique_ptr<node::BlockingClient>> proven, silent;
    for (int i = 0; i < 2; ++i) {
        proven.push_back(cluster.connect(1));  // thread 0
        CHECK(ask(*proven.back(), demo::send, "me").payload == "im-1: me");
        silent.push_back(cluster.connect(1));  // thread 1
    }
    // The next connection lands on thread 0, which has no silent one to give up.
    auto honest = cluster.connect(1);
    CHECK(ask(*honest, demo::send, "let me in").payload == "im-1: let me in");
    CHECK_FALSE(silent[0]->receive(5s));
    CHECK(silent[0]->closed());
    for (auto& client : proven) CHECK(ask(*client, demo::send, "here").payload == "im-1: here");
}

TEST_CASE("before its handshake a link may send only handshake-sized frames") {
    auto config = gate_and_im1();
    config.settings.connect_timeout_ms = 10'000;  // so that only the size closes it
    TestCluster cluster(config);
    cluster.start({2});
    cluster.start({1});
    // A backend's port and a gate's link_port alike.
    for (std::uint32_t node : {2u, 1u}) {
        CAPTURE(node);
        RawSocket hostile(cluster.addresses().link_address(node)->port);
        auto started = std::chrono::steady_clock::now();
        hostile.send(header_only(std::uint32_t(cluster::EnvelopeKind::hello), 16u << 20));
        CHECK(hostile.closed_within(5s));
        CHECK(std::chrono::steady_clock::now() - started < 2s);
    }
    // Real nodes still link.
    auto client = cluster.connect(1);
    CHECK(ask(*client, demo::send, "linked").payload == "im-1: linked");
}

TEST_CASE("link connections in their handshake are bounded: the oldest go, real nodes link") {
    auto config = gate_and_im1();
    config.settings.connect_timeout_ms = 10'000;  // so that only the bound closes them
    TestCluster cluster(config);
    cluster.start({2}, 1);
    auto port = cluster.addresses().link_address(2)->port;
    std::deque<RawSocket> silent;
    for (int i = 0; i < 100; ++i) silent.emplace_back(port);
    // 64 may wait for their handshake on one io thread: the 36 oldest were closed.
    int closed = 0;
    for (auto& socket : silent) closed += socket.closed_within(closed == 0 ? 2000ms : 20ms);
    CHECK(closed == 36);
    cluster.start({1});
    auto client = cluster.connect(1);
    CHECK(ask(*client, demo::send, "linked").payload == "im-1: linked");
}
