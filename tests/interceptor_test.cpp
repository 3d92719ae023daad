// Loopback integration tests of a gate's interceptor chain: real gate and backend in this
// process, real TCP clients. Each test pins one promise of README's "Interceptors".

#include "demo/handlers.hpp"
#include "support/test_cluster.hpp"

#include <doctest/doctest.h>

#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

using namespace dinx;
using namespace dinx::test;

namespace {

// Not routed: only a rewrite makes these reach a handler.
constexpr std::uint32_t to_send = 99;   // rewritten to demo::send (run on im-1)
constexpr std::uint32_t to_login = 98;  // rewritten to demo::login (run on the gate)

// What interceptors saw, written on the gate's io threads, read by the test.
class SharedLog {
public:
    void add(std::string line) {
        std::lock_guard lock(mutex_);
        lines_.push_back(std::move(line));
    }
    std::vector<std::string> lines() {
        std::lock_guard lock(mutex_);
        return lines_;
    }

private:
    std::mutex mutex_;
    std::vector<std::string> lines_;
};

// gate-1 (id 1) and im-1 (id 2) with the demo's routes, the gate running `chain`.
struct Intercepted {
    TestCluster cluster;
    explicit Intercepted(std::vector<Interceptor> chain)
        : cluster(make_config({gate(1, "gate-1"), backend(2, "im-1")}, demo_routes()),
                  std::move(chain)) {
        cluster.start({2});
        cluster.start({1});
    }
};

node::Frame ask(node::BlockingClient& client, std::uint32_t msg_id, std::string_view payload) {
    client.send(msg_id, payload);
    return next_frame(client);
}

// An error frame with `code` about the request the client sent as `msg_id`.
bool is_error(const node::Frame& frame, std::string_view code, std::uint32_t msg_id) {
    return frame.msg_id == 0xFFFF'FFFF &&
           frame.payload.find("\"code\": \"" + std::string(code) + "\"") != std::string::npos &&
           frame.payload.find("\"msg_id\": " + std::to_string(msg_id) + ",") != std::string::npos;
}

std::string text_of(const ClientFrame& frame) {
    return std::to_string(frame.msg_id()) + " " + std::string(as_text(frame.payload()));
}

}  // namespace

TEST_CASE("interceptors run in registration order, each sees the frame, then it is routed") {
    SharedLog log;  // (outlives the cluster, whose gate writes it)
    Intercepted gate({
        [&](ClientFrame& frame) {
            log.add("first " + text_of(frame));
            return Verdict::pass;
        },
        [&](ClientFrame& frame) {
            log.add("second " + text_of(frame));
            return Verdict::pass;
        },
    });
    auto client = gate.cluster.connect(1);
    CHECK(ask(*client, demo::send, "hi").payload == "im-1: hi");
    CHECK(log.lines() == std::vector<std::string>{"first 3 hi", "second 3 hi"});
}

TEST_CASE("a rewritten msgID is what later interceptors see and what is routed") {
    SharedLog log;
    Intercepted gate({
        [](ClientFrame& frame) {
            if (frame.msg_id() == to_send) frame.rewrite(demo::send);
            if (frame.msg_id() == to_login) frame.rewrite(demo::login);
            return Verdict::pass;
        },
        [&](ClientFrame& frame) {
            log.add(text_of(frame));
            return Verdict::pass;
        },
    });
    auto client = gate.cluster.connect(1);
    // Neither 99 nor 98 is routed: without the rewrite each would get no_route.
    auto sent = ask(*client, to_send, "hello");  // to a backend
    CHECK(sent.msg_id == demo::send);
    CHECK(sent.payload == "im-1: hello");
    auto welcome = ask(*client, to_login, "bob");  // run on the gate itself
    CHECK(welcome.msg_id == demo::login);
    CHECK(welcome.payload == "welcome bob");
    CHECK(log.lines() == std::vector<std::string>{"3 hello", "1 bob"});
}

TEST_CASE("a stop with a reply gives the client that reply alone, and no handler runs") {
    Intercepted gate({[](ClientFrame& frame) {
        if (as_text(frame.payload()) != "blocked") return Verdict::pass;
        frame.reply(50, "not this one");
        return Verdict::stop;
    }});
    auto client = gate.cluster.connect(1);
    client->send(demo::send, "blocked");
    client->send(demo::send, "open");
    auto answer = next_frame(*client);
    CHECK(answer.msg_id == 50);
    CHECK(answer.payload == "not this one");
    // Had the handler run on "blocked", its reply would come before this one (same node, in
    // order); a rejected frame would too.
    CHECK(next_frame(*client).payload == "im-1: open");
}

TEST_CASE("a stop without an answer gives one rejected frame naming the msgID the client sent") {
    Intercepted gate({
        [](ClientFrame& frame) {
            if (frame.msg_id() == to_send) frame.rewrite(demo::broadcast);
            return Verdict::pass;
        },
        [](ClientFrame& frame) {
            return frame.msg_id() == demo::broadcast ? Verdict::stop : Verdict::pass;
        },
    });
    auto client = gate.cluster.connect(1);
    client->send(demo::broadcast, "to all");
    client->send(to_send, "rewritten, then stopped");
    client->send(demo::send, "after");
    auto first = next_frame(*client);
    CHECK(is_error(first, "rejected", demo::broadcast));
    CHECK(first.payload.find("an interceptor stopped msg_id 4") != std::string::npos);
    CHECK(is_error(next_frame(*client), "rejected", to_send));
    // No second error frame, and no broadcast (it would come before the reply, from im-1).
    CHECK(next_frame(*client).payload == "im-1: after");
}

TEST_CASE("an interceptor that throws gets handler_error, and the gate serves everyone on") {
    Intercepted gate({[](ClientFrame& frame) {
        auto text = as_text(frame.payload());
        if (text == "boom") throw std::runtime_error("boom");
        if (text == "int") throw 42;
        if (text == "answered, then boom") {
            frame.reply(demo::send, "early");
            throw std::runtime_error("late boom");
        }
        return Verdict::pass;
    }});
    auto alice = gate.cluster.connect(1);
    auto bob = gate.cluster.connect(1);
    auto failed = ask(*alice, demo::send, "boom");
    CHECK(is_error(failed, "handler_error", demo::send));
    CHECK(failed.payload.find("an interceptor failed") != std::string::npos);
    CHECK(is_error(ask(*alice, demo::send, "int"), "handler_error", demo::send));
    // Its one answer was given before the throw: no error frame follows it.
    alice->send(demo::send, "answered, then boom");
    alice->send(demo::send, "still here");
    CHECK(next_frame(*alice).payload == "early");
    CHECK(next_frame(*alice).payload == "im-1: still here");
    CHECK(ask(*bob, demo::send, "me too").payload == "im-1: me too");
}

TEST_CASE("a heartbeat is echoed without running the chain") {
    SharedLog log;
    Intercepted gate({[&](ClientFrame& frame) {
        log.add(text_of(frame));
        return Verdict::stop;
    }});
    auto client = gate.cluster.connect(1);
    auto heartbeat = ask(*client, 99999, "ping");  // the default heartbeat_msg_id
    CHECK(heartbeat.msg_id == 99999);
    CHECK(heartbeat.payload == "ping");
    CHECK(is_error(ask(*client, demo::send, "x"), "rejected", demo::send));
    CHECK(log.lines() == std::vector<std::string>{"3 x"});
}

TEST_CASE("the demo's interceptor: send, broadcast, relay and rooms need a login, logout not") {
    std::vector<Interceptor> chain;
    demo::register_demo_interceptors([&](Interceptor i) { chain.push_back(std::move(i)); });
    Intercepted gate(std::move(chain));
    auto client = gate.cluster.connect(1);
    for (std::uint32_t msg_id : {3u, 4u, 5u, 7u, 8u, 9u, 10u, 11u}) {
        auto refused = ask(*client, msg_id, "as a guest");
        CHECK_MESSAGE(is_error(refused, "unauthenticated", msg_id), refused.payload);
        CHECK(refused.payload.find("log in first (msg_id 1)") != std::string::npos);
    }
    CHECK(ask(*client, demo::logout, "").payload.starts_with("bye guest-"));
    CHECK(is_error(ask(*client, 77, ""), "no_route", 77));  // not the interceptor's business
    CHECK(ask(*client, demo::login, "alice").payload == "welcome alice");
    CHECK(ask(*client, demo::send, "hello").payload == "im-1: hello");
    CHECK(ask(*client, demo::broadcast, "hi").payload == "alice: hi");
    CHECK(ask(*client, demo::relay, "ping").payload == "im-1 via im-1: ping");
    CHECK(ask(*client, demo::logout, "").payload == "bye alice");
    CHECK(is_error(ask(*client, demo::send, "gone"), "unauthenticated", demo::send));
}
