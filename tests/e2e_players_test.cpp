// End-to-end tests of players across the cluster (issue 9) with real dinx-demo processes: two
// gates and two im backends, each its own process, on free loopback ports, with the demo's
// player messages (conf/route.toml): 1 login and 13 get on the gates; 3 send, 7 join, 8 leave,
// 9 say, 10 whisper, 11 members and 12 set on im.
//
// The uid directory is eventually consistent (a node learns of a login on another gate one link
// hop later): every test awaits what it needs by asking until the answer shows it, with a
// deadline; none sleeps a fixed time hoping the cluster caught up.

#include "node/blocking_client.hpp"
#include "tests/support/child_process.hpp"

#include <doctest/doctest.h>

#include "tests/support/demo_cluster.hpp"  // (its checks need doctest first)

#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

using namespace dinx::test;
using namespace dinx::test::e2e;

namespace {

constexpr std::uint32_t gate1 = 1;
constexpr std::uint32_t im1 = 2;
constexpr std::uint32_t im2 = 3;
constexpr std::uint32_t gate2 = 4;

constexpr std::uint32_t kick_msg_id = 0xFFFF'FFFE;

// The demo's msgIDs.
enum : std::uint32_t {
    login = 1,
    send = 3,
    join = 7,
    leave = 8,
    say = 9,
    whisper = 10,
    members = 11,
    set_value = 12,
    get_value = 13,
};

// The longest a test waits for the directories to catch up.
constexpr milliseconds settle_timeout = 5s;

// gate-1, im-1, im-2 and gate-2 with the player routes and `settings` in [cluster].
DemoConf players_conf(std::string settings = {}) {
    DemoConf conf;
    conf.with_gate2 = true;
    conf.routes = std::string(demo_routes) + std::string(demo_player_routes);
    conf.settings = std::move(settings);
    return conf;
}

// Starts each node as its own process and waits until all listen.
void start_all(Cluster& cluster) {
    for (auto id : {im1, im2, gate1, gate2}) cluster.start_listening({id});
}

using Client = std::unique_ptr<BlockingClient>;

Client connect(const Cluster& cluster, std::uint32_t gate_id) {
    return std::make_unique<BlockingClient>("127.0.0.1", cluster.conf().port_of(gate_id), 2s);
}

Frame ask(BlockingClient& client, std::uint32_t msg_id, std::string_view payload) {
    client.send(msg_id, payload);
    return receive_frame(client);
}

std::string ask_text(BlockingClient& client, std::uint32_t msg_id, std::string_view payload) {
    auto frame = ask(client, msg_id, payload);
    CHECK_MESSAGE(frame.msg_id == msg_id,
                  "asked " << msg_id << " got " << frame.msg_id << ": " << frame.payload);
    return frame.payload;
}

// A client of `gate_id` logged in as `uid`.
Client player(const Cluster& cluster, std::uint32_t gate_id, const std::string& uid) {
    auto client = connect(cluster, gate_id);
    log_in(*client, uid);
    return client;
}

// Asks until the reply is `want`; returns the last reply.
std::string ask_until(BlockingClient& client, std::uint32_t msg_id, std::string_view payload,
                      std::string_view want, milliseconds timeout = settle_timeout) {
    auto deadline = steady_clock::now() + timeout;
    std::string reply;
    for (;;) {
        reply = ask(client, msg_id, payload).payload;
        if (reply == want || steady_clock::now() >= deadline) return reply;
        std::this_thread::sleep_for(1ms);  // a poll, not a guess: the loop awaits `want`
    }
}

// The im node a client's requests to group im go to ("im-1" or "im-2").
std::string im_of(BlockingClient& client) {
    auto reply = ask_text(client, send, "which");
    return reply.substr(0, reply.find(':'));
}

// A logged-in player and its uid.
struct Named {
    Client client;
    std::string uid;
};

// Two players of `gate_id` (named <prefix>1, <prefix>2, ..., connecting until one is pinned to
// im-1 and one to im-2): what they ask of group im shows both im nodes' directories.
struct Watchers {
    Named on_im1;
    Named on_im2;
};

Watchers watchers(const Cluster& cluster, std::uint32_t gate_id, const std::string& prefix) {
    Watchers out;
    for (int n = 1; n <= 64 && !(out.on_im1.client && out.on_im2.client); ++n) {
        auto uid = prefix + std::to_string(n);
        auto client = player(cluster, gate_id, uid);
        auto& slot = im_of(*client) == "im-1" ? out.on_im1 : out.on_im2;
        if (!slot.client) slot = {std::move(client), uid};
    }
    REQUIRE_MESSAGE((out.on_im1.client && out.on_im2.client), "64 clients all stuck to one im");
    return out;
}

// The client gets the kick frame with `code`, then EOF.
void check_ended(BlockingClient& client, std::string_view code, const Cluster& cluster) {
    auto frame = client.receive(settle_timeout);
    INFO(cluster.logs());
    REQUIRE_MESSAGE(frame.has_value(), "no kick frame; closed: " << client.closed());
    CHECK(frame->msg_id == kick_msg_id);
    CHECK_MESSAGE(contains(frame->payload, "\"code\": \"" + std::string(code) + "\""),
                  frame->payload);
    auto after = client.receive(settle_timeout);
    CHECK_MESSAGE(!after.has_value(), "a frame after the kick: " << after->payload);
    CHECK(client.closed());
}

// Whispers from `sender` to `uid` until `receiver` gets one (the directory of the sender's im
// node may point at an older session, or none, for a moment); true when one arrived.
bool whisper_until_received(BlockingClient& sender, const std::string& sender_uid,
                            const std::string& uid, BlockingClient& receiver) {
    auto deadline = steady_clock::now() + settle_timeout;
    for (int k = 0; steady_clock::now() < deadline; ++k) {
        auto text = "ping-" + std::to_string(k);
        auto reply = ask(sender, whisper, uid + " " + text);
        if (reply.msg_id != whisper) {
            CHECK_MESSAGE(contains(reply.payload, "\"code\": \"offline\""), reply.payload);
            continue;
        }
        CHECK(reply.payload == "to " + uid + ": " + text);
        if (auto frame = receiver.receive(200ms)) {
            CHECK(frame->msg_id == whisper);
            CHECK(frame->payload.rfind(sender_uid + ": ping-", 0) == 0);
            // A later ping still on its way arrives before a last whisper by the same im node.
            CHECK(ask_text(sender, whisper, uid + " done") == "to " + uid + ": done");
            for (;;) {
                auto next = receive_frame(receiver);
                CHECK(next.msg_id == whisper);
                if (next.payload == sender_uid + ": done") return true;
                CHECK(next.payload.rfind(sender_uid + ": ping-", 0) == 0);
            }
        }
        if (receiver.closed()) return false;
    }
    return false;
}

// The next frame of `client` is `payload` with `msg_id`: nothing came in between (a frame
// delivered twice would be caught by the next call).
void check_next(BlockingClient& client, std::uint32_t msg_id, const std::string& payload) {
    auto frame = receive_frame(client);
    CHECK(frame.msg_id == msg_id);
    CHECK(frame.payload == payload);
}

}  // namespace

TEST_CASE("players e2e: a whisper from a player on gate-1 reaches a player on gate-2") {
    Cluster cluster(players_conf());
    start_all(cluster);
    auto alice = player(cluster, gate1, "alice");
    auto bob = player(cluster, gate2, "bob");
    INFO(cluster.logs());

    CHECK(whisper_until_received(*alice, "alice", "bob", *bob));
    CHECK(ask_text(*alice, whisper, "bob hello from gate-1") == "to bob: hello from gate-1");
    auto frame = receive_frame(*bob);
    CHECK(frame.msg_id == whisper);
    CHECK(frame.payload == "alice: hello from gate-1");

    CHECK(whisper_until_received(*bob, "bob", "alice", *alice));
    CHECK(ask_text(*bob, whisper, "alice hi back") == "to alice: hi back");
    CHECK(receive_frame(*alice).payload == "bob: hi back");

    auto offline = ask(*alice, whisper, "carol anyone?");
    CHECK(offline.msg_id == error_msg_id);
    CHECK(contains(offline.payload, "\"code\": \"offline\""));
    // Nothing else reached bob: the next whisper is the next frame he gets.
    CHECK(ask_text(*alice, whisper, "bob last") == "to bob: last");
    check_next(*bob, whisper, "alice: last");
}

TEST_CASE("players e2e: bob logging in on gate-1 kicks bob on gate-2 with `replaced`") {
    Cluster cluster(players_conf());
    start_all(cluster);
    auto alice = player(cluster, gate1, "alice");
    auto bob_on_2 = player(cluster, gate2, "bob");
    INFO(cluster.logs());
    CHECK(whisper_until_received(*alice, "alice", "bob", *bob_on_2));

    auto bob_on_1 = player(cluster, gate1, "bob");
    check_ended(*bob_on_2, "replaced", cluster);
    CHECK(im_of(*bob_on_1).rfind("im-", 0) == 0);
    CHECK(ask_text(*bob_on_1, join, "hall") == "joined hall: 1 members");
    CHECK(whisper_until_received(*alice, "alice", "bob", *bob_on_1));
    CHECK(ask_text(*bob_on_1, whisper, "alice still here") == "to alice: still here");
    CHECK(receive_frame(*alice).payload == "bob: still here");
}

TEST_CASE("players e2e: 50 duplicate logins across gates: the newest login always survives") {
    Cluster cluster(players_conf());
    start_all(cluster);
    auto watch = watchers(cluster, gate1, "watcher");
    auto& watch1 = *watch.on_im1.client;
    auto& watch2 = *watch.on_im2.client;
    const auto& name1 = watch.on_im1.uid;
    const auto& name2 = watch.on_im2.uid;
    INFO(cluster.logs());
    std::map<std::string, int> replaced_counts;

    SUBCASE("the second login is sent right after the first's welcome, before its close") {
        // One uid throughout: each round's first login also replaces the last round's survivor.
        Client survivor;
        for (int round = 0; round < 50; ++round) {
            CAPTURE(round);
            auto first_gate = round % 2 == 0 ? gate1 : gate2;
            auto second_gate = round % 2 == 0 ? gate2 : gate1;
            auto first = connect(cluster, first_gate);
            auto second = connect(cluster, second_gate);  // connected ahead, to be quick
            log_in(*first, "racer");
            log_in(*second, "racer");
            if (survivor) check_ended(*survivor, "replaced", cluster);
            check_ended(*first, "replaced", cluster);
            CHECK(im_of(*second).rfind("im-", 0) == 0);  // it keeps answering
            // Both im nodes send racer's whispers to the newest session.
            CHECK(whisper_until_received(watch1, name1, "racer", *second));
            CHECK(whisper_until_received(watch2, name2, "racer", *second));
            CHECK(im_of(*second).rfind("im-", 0) == 0);
            survivor = std::move(second);
        }
    }
    SUBCASE("two new connections send their logins at once") {
        for (int round = 0; round < 50; ++round) {
            CAPTURE(round);
            auto uid = "racer-" + std::to_string(round);
            auto on1 = connect(cluster, gate1);
            auto on2 = connect(cluster, gate2);
            on1->send(login, uid);
            on2->send(login, uid);
            // Both are welcomed (each gate bound it); then the older login is replaced.
            CHECK(receive_frame(*on1).payload == "welcome " + uid);
            CHECK(receive_frame(*on2).payload == "welcome " + uid);
            // Whichever lost gets the kick frame; the other none.
            BlockingClient* loser = nullptr;
            BlockingClient* winner = nullptr;
            auto deadline = steady_clock::now() + settle_timeout;
            while (!loser && steady_clock::now() < deadline) {
                for (auto [mine, other] :
                     {std::pair{on1.get(), on2.get()}, std::pair{on2.get(), on1.get()}}) {
                    if (loser) break;
                    if (auto frame = mine->receive(5ms)) {
                        CHECK(frame->msg_id == kick_msg_id);
                        CHECK(contains(frame->payload, "\"code\": \"replaced\""));
                        loser = mine;
                        winner = other;
                    }
                }
            }
            REQUIRE_MESSAGE(loser, "neither login of " << uid << " was replaced");
            CHECK_FALSE(loser->receive(settle_timeout).has_value());
            CHECK(loser->closed());
            ++replaced_counts[loser == on1.get() ? "gate-1 lost" : "gate-2 lost"];
            // The winner keeps answering and both im nodes send its whispers there.
            CHECK(im_of(*winner).rfind("im-", 0) == 0);
            CHECK(whisper_until_received(watch1, name1, uid, *winner));
            CHECK(whisper_until_received(watch2, name2, uid, *winner));
            CHECK_FALSE(winner->closed());
        }
        MESSAGE("simultaneous logins: " << replaced_counts["gate-1 lost"] << " lost on gate-1, "
                                        << replaced_counts["gate-2 lost"] << " on gate-2");
    }
}

TEST_CASE("players e2e: a room keeps working on one gate while the other dies and comes back") {
    constexpr int heartbeat_ms = 200;
    Cluster cluster(players_conf("heartbeat_interval_ms = " + std::to_string(heartbeat_ms)));
    cluster.start_listening({im1});
    cluster.start_listening({im2});
    auto& doomed = cluster.start_listening({gate1});
    cluster.start_listening({gate2});
    INFO(cluster.logs());

    auto a1 = player(cluster, gate1, "a1");
    auto a2 = player(cluster, gate1, "a2");
    auto b1 = player(cluster, gate2, "b1");
    auto b2 = player(cluster, gate2, "b2");
    auto watch = watchers(cluster, gate2, "w");  // on the surviving gate
    auto& watch1 = *watch.on_im1.client;
    auto& watch2 = *watch.on_im2.client;
    for (auto* client : {a1.get(), a2.get(), b1.get(), b2.get()})
        CHECK(ask_text(*client, join, "hall").rfind("joined hall: ", 0) == 0);
    for (auto* watcher : {&watch1, &watch2})
        CHECK(ask_until(*watcher, members, "hall", "hall: a1 a2 b1 b2") == "hall: a1 a2 b1 b2");
    CHECK(ask_text(*b1, say, "hall before") == "hall b1: before");
    for (auto* client : {a1.get(), a2.get(), b2.get()}) check_next(*client, say, "hall b1: before");

    // SIGKILL closes the dead gate's sockets at once; a frozen gate (SIGSTOP) goes silent and
    // is found dead by the heartbeat.
    std::string how;
    auto killed = steady_clock::now();
    SUBCASE("SIGKILL") {
        how = "SIGKILL";
        doomed.send_signal(SIGKILL);
        REQUIRE(doomed.wait_for_exit(promised_bound).has_value());
    }
    SUBCASE("SIGSTOP, then SIGKILL") {
        how = "SIGSTOP";
        doomed.send_signal(SIGSTOP);
        REQUIRE(wait_until_stopped(doomed.pid(), promised_bound));
    }

    // Says go on among the survivors while the dead gate's members are forgotten.
    int said = 0;
    auto forgotten = [&] {
        return ask_text(watch1, members, "hall") == "hall: b1 b2" &&
               ask_text(watch2, members, "hall") == "hall: b1 b2";
    };
    // Links are declared dead 2.5 to 3 intervals after the last frame heard: 3 intervals, plus
    // slack for a loaded machine.
    auto limit = milliseconds(3 * heartbeat_ms) + 1s;
    bool gone = false;
    while (!gone && steady_clock::now() - killed < limit) {
        auto text = "during-" + std::to_string(said++);
        CHECK(ask_text(*b1, say, "hall " + text) == "hall b1: " + text);
        check_next(*b2, say, "hall b1: " + text);
        gone = forgotten();
        if (!gone) std::this_thread::sleep_for(2ms);  // a poll interval: the loop awaits `gone`
    }
    auto took = std::chrono::duration_cast<milliseconds>(steady_clock::now() - killed);
    CHECK_MESSAGE(gone, "gate-1's members still listed " << took.count() << " ms after " << how);
    MESSAGE("gate-1's members forgotten " << took.count() << " ms after " << how << " (" << said
                                          << " says meanwhile; heartbeat " << heartbeat_ms
                                          << " ms)");
    if (doomed.running()) {  // the frozen one is killed now, to be restarted
        doomed.send_signal(SIGKILL);
        REQUIRE(doomed.wait_for_exit(promised_bound).has_value());
    }
    CHECK(ask_text(*b2, say, "hall after") == "hall b2: after");
    check_next(*b1, say, "hall b2: after");

    // gate-1 back on its ports: its players log in again, rejoin, hear and are heard.
    cluster.start_listening({gate1});
    auto a1_again = player(cluster, gate1, "a1");
    CHECK(ask_text(*a1_again, join, "hall").rfind("joined hall: ", 0) == 0);
    for (auto* watcher : {&watch1, &watch2})
        CHECK(ask_until(*watcher, members, "hall", "hall: a1 b1 b2") == "hall: a1 b1 b2");
    // The im node (and its thread) that speaks for b1 or b2 may still be backing off from its
    // dials of the dead gate, and frames to a node in back-off are dropped: each says until a1
    // hears one (the other b hears every one), then every later say reaches a1 once.
    auto until_heard = [&](BlockingClient& speaker, const std::string& uid, BlockingClient& other) {
        auto deadline = steady_clock::now() + settle_timeout;
        for (int k = 0; steady_clock::now() < deadline; ++k) {
            auto text = "back-" + std::to_string(k);
            CHECK(ask_text(speaker, say, "hall " + text) == "hall " + uid + ": " + text);
            check_next(other, say, "hall " + uid + ": " + text);
            if (auto frame = a1_again->receive(200ms)) {
                CHECK(frame->payload.rfind("hall " + uid + ": back-", 0) == 0);
                return true;
            }
        }
        return false;
    };
    CHECK_MESSAGE(until_heard(*b2, "b2", *b1), "a1 on the restarted gate-1 never heard b2");
    CHECK_MESSAGE(until_heard(*b1, "b1", *b2), "a1 on the restarted gate-1 never heard b1");
    // (A copy of an earlier back-k still on its way may come before the next say.)
    auto next_say = [&](const std::string& payload) {
        for (;;) {
            auto frame = receive_frame(*a1_again);
            CHECK(frame.msg_id == say);
            if (frame.payload == payload) return;
            CHECK(contains(frame.payload, ": back-"));
        }
    };
    CHECK(ask_text(*b2, say, "hall hello a1") == "hall b2: hello a1");
    check_next(*b1, say, "hall b2: hello a1");
    next_say("hall b2: hello a1");
    CHECK(ask_text(*b1, say, "hall hi a1") == "hall b1: hi a1");
    check_next(*b2, say, "hall b1: hi a1");
    next_say("hall b1: hi a1");
    CHECK(ask_text(*a1_again, say, "hall I am back") == "hall a1: I am back");
    for (auto* client : {b1.get(), b2.get()}) check_next(*client, say, "hall a1: I am back");
    CHECK(ask_text(*b1, say, "hall last") == "hall b1: last");
    check_next(*b2, say, "hall b1: last");
    check_next(*a1_again, say, "hall b1: last");
    CHECK(ask_text(*b2, say, "hall last too") == "hall b2: last too");
    check_next(*b1, say, "hall b2: last too");
    check_next(*a1_again, say, "hall b2: last too");
}

TEST_CASE("players e2e: session values set on im (12) are read on the gate (13)") {
    Cluster cluster(players_conf());
    start_all(cluster);
    INFO(cluster.logs());
    std::set<std::string> ims;
    for (auto gate_id : {gate1, gate2}) {
        for (int n = 0; n < 8; ++n) {
            auto uid = "p" + std::to_string(gate_id) + "-" + std::to_string(n);
            auto client = player(cluster, gate_id, uid);
            ims.insert(im_of(*client));
            CHECK(ask_text(*client, get_value, "color") == "color is not set");
            CHECK(ask_text(*client, set_value, "color blue-" + uid) == "color=blue-" + uid);
            CHECK(ask_text(*client, get_value, "color") == "color=blue-" + uid);
            CHECK(ask_text(*client, set_value, "size " + std::to_string(n)) ==
                  "size=" + std::to_string(n));
            CHECK(ask_text(*client, set_value, "color red") == "color=red");
            CHECK(ask_text(*client, get_value, "color") == "color=red");
            CHECK(ask_text(*client, get_value, "size") == "size=" + std::to_string(n));
        }
    }
    CHECK(ims == std::set<std::string>{"im-1", "im-2"});  // both backends set values
}
