// End-to-end tests of the promises a hostile world tests: exactly one answer per request while
// nodes freeze and resume, answers for clients that half-close, bounded memory, fairness,
// slow and silent clients, and link ports before authentication. Real dinx-demo processes on
// free loopback ports, spoken to with plain sockets.
//
// Every wait is bounded and awaits a condition; a wait for something that must NOT happen
// (a second answer) comes after a condition that shows it would have happened by then.

#include "tests/support/child_process.hpp"

#include <doctest/doctest.h>

#include "tests/support/demo_cluster.hpp"  // (its checks need doctest first)

#include <map>
#include <set>
#include <string>

using namespace dinx::test;
using namespace dinx::test::e2e;

namespace {

/// True when `frame` is an error frame with code `code`.
bool is_error_code(const Frame& frame, std::string_view code) {
    return frame.msg_id == error_msg_id &&
           contains(frame.payload, "\"code\": \"" + std::string(code) + "\"");
}

/// Connects new clients until one is answered by `node` for msgID 3 (send); false after
/// `timeout`. It shows that node runs again and that the gate uses it.
bool wait_until_node_answers(const Cluster& cluster, std::string_view node, milliseconds timeout) {
    auto deadline = steady_clock::now() + timeout;
    while (steady_clock::now() < deadline) {
        auto client = connect_to_gate(cluster);
        client.send(3, "probe");
        auto frame = client.receive(1s);
        if (frame && frame->payload == std::string(node) + ": probe") return true;
        if (!frame || frame->msg_id == error_msg_id) std::this_thread::sleep_for(50ms);
    }
    return false;
}

}  // namespace

TEST_CASE("a backend resumed after it was declared dead answers no request twice, relays too") {
    DemoConf conf;
    Cluster cluster(conf);
    write_file(cluster.dir() / "dinx.toml",
               "[cluster]\nheartbeat_interval_ms = 200\n" + conf.nodes());
    cluster.start_listening({1});
    auto& im1 = cluster.start_listening({2});
    cluster.start_listening({3});
    std::deque<BlockingClient> clients;
    for (int c = 0; c < 16; ++c) clients.emplace_back("127.0.0.1", conf.gate_port, 2s);
    INFO(cluster.logs());
    // Every link up: gate to both, and im-1 and im-2 to each other (relays).
    for (auto& client : clients) {
        client.send(3, "warm");
        CHECK(receive_frame(client).msg_id == 3);
        client.send(5, "warm");
        CHECK(receive_frame(client).msg_id == 5);
    }
    im1.send_signal(SIGSTOP);  // its links go silent; its buffers keep what was sent to it
    REQUIRE(wait_until_stopped(im1.pid(), 5s));
    // Direct requests of clients sticky to im-1, and relays through or to im-1.
    const std::vector<std::pair<std::uint32_t, std::string>> requests{
        {3, "a"}, {5, "b"}, {3, "c"}, {5, "d"}};
    for (auto& client : clients)
        for (const auto& [msg_id, text] : requests) client.send(msg_id, text);
    // Answers of one client may come in any order (a relay's answer takes another way than a
    // direct reply), so they are matched by content: a reply ends with its request's text, an
    // error frame names its request's msgID.
    std::map<std::string, int> outcomes;
    for (auto& client : clients) {
        std::multiset<std::string> seen;
        for (std::size_t i = 0; i < requests.size(); ++i) {
            auto frame = receive_frame(client, 10s);
            INFO(frame.msg_id << " " << frame.payload);
            if (frame.msg_id == error_msg_id) {
                CHECK((is_error_code(frame, "outcome_unknown") ||
                       is_error_code(frame, "unavailable")));
                auto code = frame.payload.substr(frame.payload.find("\"code\""));
                ++outcomes[code.substr(0, code.find(','))];
                seen.insert("error " + frame.payload.substr(0, frame.payload.find(',')));
            } else {
                ++outcomes["reply"];
                seen.insert(std::to_string(frame.msg_id) + " " + frame.payload.back());
            }
        }
        // Two requests of each msgID: at most two answers each, never one request twice.
        for (const auto& [msg_id, text] : requests)
            CHECK(seen.count(std::to_string(msg_id) + " " + text) <= 1);
    }
    for (const auto& [what, count] : outcomes) MESSAGE(what << ": " << count);
    im1.send_signal(SIGCONT);  // it now runs what it read before it stopped, and replies
    REQUIRE(wait_until_node_answers(cluster, "im-1", 15s));
    // im-1 has run since long enough to answer a new client: a late answer would be here.
    int extra = 0;
    for (auto& client : clients) {
        while (auto frame = client.receive(extra == 0 ? 500ms : 50ms)) {
            MESSAGE("a second answer: " << frame->msg_id << " " << frame->payload);
            ++extra;
        }
    }
    CHECK(extra == 0);
}

TEST_CASE("a forwarding node that freezes mid-relay costs one answer per request, never two") {
    DemoConf conf;
    Cluster cluster(conf);
    write_file(cluster.dir() / "dinx.toml",
               "[cluster]\nheartbeat_interval_ms = 200\n" + conf.nodes());
    cluster.start_listening({1});
    auto& im1 = cluster.start_listening({2});
    cluster.start_listening({3});
    INFO(cluster.logs());
    // Clients sticky to im-1: their relays go gate -> im-1 -> im-2, and back.
    std::deque<BlockingClient> clients;
    while (clients.size() < 8) {
        auto& client = clients.emplace_back("127.0.0.1", conf.gate_port, 2s);
        client.send(5, "warm");
        if (receive_frame(client).payload != "im-2 via im-1: warm") clients.pop_back();
    }
    // A burst in flight on every hop when im-1 freezes: im-2 has answered some of them, and
    // im-1 will never pass those answers (or their ends) on.
    constexpr int burst = 40;
    for (auto& client : clients) {
        dinx::ByteBuffer frames;
        for (int i = 0; i < burst; ++i)
            dinx::node::append_frame(frames, 5, dinx::as_bytes("r" + std::to_string(i)));
        client.send_raw(frames);
    }
    im1.send_signal(SIGSTOP);
    REQUIRE(wait_until_stopped(im1.pid(), 5s));
    std::map<std::string, int> outcomes;
    for (auto& client : clients) {
        std::set<std::string> replied;
        for (int i = 0; i < burst; ++i) {
            auto frame = receive_frame(client, 10s);
            if (frame.msg_id == error_msg_id) {
                CHECK((is_error_code(frame, "outcome_unknown") ||
                       is_error_code(frame, "unavailable")));
                ++outcomes["error"];
            } else {
                CHECK(replied.insert(frame.payload).second);  // each reply once
                ++outcomes["reply"];
            }
        }
    }
    for (const auto& [what, count] : outcomes) MESSAGE(what << ": " << count);
    // Every request had its one answer; the heartbeat limit (600 ms) has long passed, so a
    // second answer, were there one, would be here within the wait.
    int extra = 0;
    for (auto& client : clients)
        while (auto frame = client.receive(extra == 0 ? 1000ms : 50ms)) {
            MESSAGE("a second answer: " << frame->msg_id << " " << frame->payload);
            ++extra;
        }
    CHECK(extra == 0);
    im1.send_signal(SIGCONT);
}
