// Loopback integration tests of calls between services (issue 10): every error of the call table,
// deadlines and their propagation, concurrent calls, call_all, coroutine handlers that keep a
// client's messages in order, blocking work, service timers, and a stateful single-threaded
// service under concurrent load. Each node runs in its own Process in this test process, on
// port 0, spoken to by real TCP clients through a gate.
//
// The handlers and methods here cannot capture (coroutine lambdas must not): what they share
// with the test lives in this file's globals, guarded where two threads touch it.

#include "cluster/dinx.hpp"
#include "support/test_cluster.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

using namespace dinx;
using namespace dinx::test;
using namespace std::chrono_literals;
using cluster::CallError;
using cluster::CallFailure;
using cluster::CallReply;
using cluster::CallTarget;
using cluster::Task;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

namespace {

constexpr std::uint32_t gate1 = 1;
constexpr std::uint32_t svc1 = 2;   // group "svc": runs the client handlers, makes the calls
constexpr std::uint32_t rank1 = 3;  // group "rank": runs the methods
constexpr std::uint32_t rank2 = 4;  // group "rank"

// What a failed check waits at most; a call never waits past its deadline plus this.
constexpr milliseconds slack = 1500ms;

enum CallMsg : std::uint32_t {
    make_call =
        40,  // svc: "<target> <method> <timeout ms> [arg]" -> "ok <reply>" | "err <code> <msg>"
    call_all = 41,     // svc: "<group> <method> [arg]" -> "<node>=ok:<reply>|err:<code>;..."
    meet_both = 42,    // svc: calls meet on rank-1 and rank-2 at once -> "<reply 1> <reply 2>"
    late_mark = 43,    // svc: stall 400 on rank-1, then mark with 100 ms, together
    add_score = 44,    // svc: "<uid>" -> add on rank-1 -> "ok <total>"
    slow_first = 45,   // svc (coroutine): sleeps 100 ms, replies "first"
    then_second = 46,  // svc (plain): replies "second"
    overload = 47,     // svc: an 8 MiB call then a small one to rank-1, together
    off_thread = 48,   // svc: blocking work -> "other thread" | "same thread"
    timer_ticks = 49,  // svc: how often the svc timer ran
};

std::atomic<int> marks{0};
std::atomic<bool> slow_started{false};
std::atomic<int> meeting{0};
std::atomic<int> ticks{0};
std::mutex outcome_mutex;
std::condition_variable outcome_changed;
std::string last_outcome;     // the last outcome a make_call saw (after its reply went)
std::string starter_outcome;  // what svc-1's starter's call returned

std::string describe(const CallReply& reply) {
    if (reply) return "ok " + *reply;
    return "err " + reply.error().code + " " + reply.error().message;
}

// "n:<id>", "g:<group>" or "k:<group>:<key>".
CallTarget parse_target(const std::string& text) {
    if (text.rfind("n:", 0) == 0) return CallTarget::node(std::stoul(text.substr(2)));
    if (text.rfind("k:", 0) == 0) {
        auto colon = text.find(':', 2);
        return CallTarget::any(text.substr(2, colon - 2), text.substr(colon + 1));
    }
    return CallTarget::any(text.substr(2));
}

Task<void> on_make_call(Context& ctx, Bytes payload) {
    std::istringstream in{std::string(as_text(payload))};
    std::string target, method, arg;
    long timeout = 0;
    in >> target >> method >> timeout;
    std::getline(in >> std::ws, arg);
    auto reply = co_await ctx.call(parse_target(target), method, arg, milliseconds(timeout));
    auto text = describe(reply);
    ctx.reply(make_call, text);
    std::lock_guard lock(outcome_mutex);
    last_outcome = text;
    outcome_changed.notify_all();
}

Task<void> on_call_all(Context& ctx, Bytes payload) {
    std::istringstream in{std::string(as_text(payload))};
    std::string group, method, arg;
    in >> group >> method;
    std::getline(in >> std::ws, arg);
    auto replies = co_await ctx.call_all(group, method, arg, 2s);
    std::string out;
    for (const auto& [node_id, reply] : replies) {
        out += std::to_string(node_id) + "=";
        out += reply ? "ok:" + *reply : "err:" + reply.error().code;
        out += ";";
    }
    ctx.reply(call_all, out);
}

Task<void> on_meet_both(Context& ctx, Bytes) {
    std::vector<Task<CallReply>> calls;
    calls.push_back(ctx.call(CallTarget::node(rank1), "meet", "", 3s));
    calls.push_back(ctx.call(CallTarget::node(rank2), "meet", "", 3s));
    auto replies = co_await when_all(std::move(calls));
    ctx.reply(meet_both, describe(replies[0]) + " " + describe(replies[1]));
}

Task<void> on_late_mark(Context& ctx, Bytes) {
    std::vector<Task<CallReply>> calls;
    calls.push_back(ctx.call(CallTarget::node(rank1), "stall", "400", 3s));
    calls.push_back(ctx.call(CallTarget::node(rank1), "mark", "", 100ms));
    auto replies = co_await when_all(std::move(calls));
    // Sent after mark on the same link: once it is answered, mark was served or skipped.
    auto probe = co_await ctx.call(CallTarget::node(rank1), "echo", "probe", 3s);
    ctx.reply(late_mark,
              describe(replies[0]) + " | " + describe(replies[1]) + " | " + describe(probe));
}

Task<void> on_add_score(Context& ctx, Bytes payload) {
    auto reply = co_await ctx.call(CallTarget::node(rank1), "add", as_text(payload), 5s);
    ctx.reply(add_score, describe(reply));
}

Task<void> on_slow_first(Context& ctx, Bytes) {
    co_await ctx.sleep(100ms);
    ctx.reply(slow_first, "first");
}

Task<void> on_overload(Context& ctx, Bytes) {
    std::string big(8 << 20, 'x');
    std::vector<Task<CallReply>> calls;
    calls.push_back(ctx.call(CallTarget::node(rank1), "size", big, 5s));
    calls.push_back(ctx.call(CallTarget::node(rank1), "echo", "small", 5s));
    auto replies = co_await when_all(std::move(calls));
    ctx.reply(overload, describe(replies[0]) + " | " + describe(replies[1]));
}

Task<void> on_off_thread(Context& ctx, Bytes) {
    auto here = std::this_thread::get_id();
    auto there = co_await ctx.blocking([] { return std::this_thread::get_id(); });
    bool back = std::this_thread::get_id() == here;
    ctx.reply(off_thread, std::string(there != here ? "other thread" : "same thread") +
                              (back ? ", resumed here" : ", resumed elsewhere"));
}

// A starter: on svc-1's start, one call to rank-1 (the node may start before rank-1 listens,
// so it tries for a while).
Task<void> on_svc_start(Context& ctx) {
    CallReply reply = cluster::call_failure(CallError::unavailable, "not tried");
    for (int i = 0; i < 100 && !reply; ++i) {
        reply = co_await ctx.call(CallTarget::node(rank1), "echo", "started", 1s);
        if (!reply) co_await ctx.sleep(20ms);
    }
    // A game loop's later calls still get their whole timeout: its context has no deadline.
    if (reply) {
        co_await ctx.sleep(ctx.remaining() + 100ms);
        reply = co_await ctx.call(CallTarget::node(rank1), "echo", "later", 1s);
    }
    std::lock_guard lock(outcome_mutex);
    starter_outcome = describe(reply);
    outcome_changed.notify_all();
}

// --- methods (every node registers them; the tests call them on rank nodes) ------------------

std::map<std::string, int> scores;  // rank-1's state: plain, guarded by nothing but its strand
int scores_total = 0;

void register_methods(cluster::HandlerTable& table) {
    table.add_method("echo", cluster::plain_method([](Context& ctx, Bytes payload) -> CallReply {
                         return ctx.node().name + ":" + std::string(as_text(payload));
                     }));
    table.add_method("fail", cluster::plain_method([](Context&, Bytes) -> CallReply {
                         return CallFailure{CallError::application, "broke", "on purpose"};
                     }));
    table.add_method("size", cluster::plain_method([](Context&, Bytes payload) -> CallReply {
                         return std::to_string(payload.size());
                     }));
    table.add_method("mark", cluster::plain_method([](Context&, Bytes) -> CallReply {
                         ++marks;
                         return std::string("marked");
                     }));
    // Blocks the node's thread: what a busy node looks like to calls queued behind.
    table.add_method(
        "stall", cluster::plain_method([](Context&, Bytes payload) -> CallReply {
            std::this_thread::sleep_for(milliseconds(std::stoi(std::string(as_text(payload)))));
            return std::string("stalled");
        }));
    table.add_method("budget", cluster::plain_method([](Context& ctx, Bytes) -> CallReply {
                         return std::to_string(ctx.remaining().count());
                     }));
    table.add_method("add", cluster::plain_method([](Context&, Bytes payload) -> CallReply {
                         ++scores[std::string(as_text(payload))];
                         return std::to_string(++scores_total);
                     }));
    table.add_method("total", cluster::plain_method([](Context&, Bytes) -> CallReply {
                         return std::to_string(scores_total) + " " + std::to_string(scores.size());
                     }));
    table.add_method("slow", [](Context& ctx, Bytes payload) -> Task<CallReply> {
        slow_started = true;
        co_await ctx.sleep(milliseconds(std::stoi(std::string(as_text(payload)))));
        co_return std::string("slept");
    });
    // Waits (up to 2 s) until a second meet call is running too: only concurrent calls meet.
    table.add_method("meet", [](Context& ctx, Bytes) -> Task<CallReply> {
        ++meeting;
        for (int i = 0; i < 400 && meeting.load() < 2; ++i) co_await ctx.sleep(5ms);
        co_return std::string(meeting.load() >= 2 ? "met" : "alone");
    });
    // "<node> <method> [arg]": calls that method with no timeout of its own, so only what is
    // left of this call's deadline bounds it.
    table.add_method("relay", [](Context& ctx, Bytes payload) -> Task<CallReply> {
        std::istringstream in{std::string(as_text(payload))};
        std::uint32_t node = 0;
        std::string method, arg;
        in >> node >> method;
        std::getline(in >> std::ws, arg);
        co_return co_await ctx.call(CallTarget::node(node), method, arg);
    });
}

void register_handlers(cluster::HandlerTable& table) {
    table.add_coroutine(make_call, on_make_call);
    table.add_coroutine(call_all, on_call_all);
    table.add_coroutine(meet_both, on_meet_both);
    table.add_coroutine(late_mark, on_late_mark);
    table.add_coroutine(add_score, on_add_score);
    table.add_coroutine(slow_first, on_slow_first);
    table.add(then_second, [](Context& ctx, Bytes) { ctx.reply(then_second, "second"); });
    table.add_coroutine(overload, on_overload);
    table.add_coroutine(off_thread, on_off_thread);
    table.add(timer_ticks,
              [](Context& ctx, Bytes) { ctx.reply(timer_ticks, std::to_string(ticks.load())); });
    table.timers.push_back({"svc", 20ms, [](Context&) { ++ticks; }});
    table.starters.push_back({"svc", on_svc_start});
    register_methods(table);
}

dict::Config calls_config() {
    std::map<std::uint32_t, std::string> routes;
    for (std::uint32_t id = make_call; id <= timer_ticks; ++id) routes[id] = "svc";
    auto config = make_config({gate(gate1, "gate-1"), backend(svc1, "svc-1", "svc"),
                               backend(rank1, "rank-1", "rank"), backend(rank2, "rank-2", "rank")},
                              routes);
    return config;
}

// A cluster of gate-1, svc-1 and the rank nodes in `ranks`, each node in its own process.
struct CallCluster {
    explicit CallCluster(std::vector<std::uint32_t> ranks, dict::Config config = calls_config())
        : cluster(std::move(config)) {
        register_handlers(cluster.handlers());
        // Backends first, as a deployment starts them: the gate finds them up.
        for (auto id : ranks) cluster.start({id});
        cluster.start({svc1});
        cluster.start({gate1});
        client = cluster.connect(gate1);
    }

    // Sends `payload` as `msg_id` and returns the reply's text (or "" after the timeout).
    std::string ask(std::uint32_t msg_id, const std::string& payload,
                    milliseconds timeout = frame_timeout) {
        client->send(msg_id, payload);
        auto frame = next_frame(*client, timeout);
        return frame.payload;
    }

    TestCluster cluster;
    std::unique_ptr<node::BlockingClient> client;
};

milliseconds since(steady_clock::time_point start) {
    return std::chrono::duration_cast<milliseconds>(steady_clock::now() - start);
}

bool starts_with(const std::string& text, const std::string& prefix) {
    return text.rfind(prefix, 0) == 0;
}

}  // namespace

TEST_CASE("a call returns the callee's reply, to a node by id, by group and by sticky key") {
    CallCluster c({rank1, rank2});
    CHECK(c.ask(make_call, "n:3 echo 2000 hi") == "ok rank-1:hi");
    CHECK(c.ask(make_call, "n:4 echo 2000 hi") == "ok rank-2:hi");
    auto by_group = c.ask(make_call, "g:rank echo 2000 hi");
    CHECK((by_group == "ok rank-1:hi" || by_group == "ok rank-2:hi"));
    // One key goes to one node, every time.
    auto first = c.ask(make_call, "k:rank:alice echo 2000 x");
    for (int i = 0; i < 5; ++i) CHECK(c.ask(make_call, "k:rank:alice echo 2000 x") == first);
}

TEST_CASE("errors: no such method, no node for an unknown group or id, the callee's own code") {
    CallCluster c({rank1});
    auto missing = c.ask(make_call, "n:3 nope 2000");
    CHECK(starts_with(missing, "err no_such_method node rank-1 has no method #"));
    CHECK(c.ask(make_call, "g:ghost echo 2000") ==
          "err no_node no group named 'ghost' in dinx.toml");
    CHECK(c.ask(make_call, "n:99 echo 2000") == "err no_node no node with id 99 in dinx.toml");
    CHECK(c.ask(make_call, "n:3 fail 2000") == "err broke on purpose");
}

TEST_CASE("a call to a node that is down fails at once with unavailable, not at its deadline") {
    CallCluster c({rank1});  // rank-2 never started: nothing listens for it
    auto start = steady_clock::now();
    auto reply = c.ask(make_call, "n:4 echo 10000 hi");
    CHECK(starts_with(reply, "err unavailable"));
    CHECK(since(start) < 10000ms);
    INFO(reply);
    // And the group picks the live node only.
    CHECK(c.ask(make_call, "g:rank echo 2000 hi") == "ok rank-1:hi");
}

TEST_CASE("a call past its deadline ends with deadline_exceeded, and no later than the deadline") {
    CallCluster c({rank1});
    auto start = steady_clock::now();
    auto reply = c.ask(make_call, "n:3 slow 300 3000");
    auto took = since(start);
    CHECK(reply == "err deadline_exceeded no reply within the call's deadline; it may have run");
    CHECK(took >= 300ms);
    CHECK(took < 300ms + slack);
}

TEST_CASE(
    "a callee stopped midway fails the call within the link's detection, before the deadline") {
    CallCluster c({rank1});
    slow_started = false;
    auto start = steady_clock::now();
    c.client->send(make_call, "n:3 slow 20000 30000");
    for (int i = 0; i < 500 && !slow_started; ++i) std::this_thread::sleep_for(10ms);
    REQUIRE(slow_started);
    c.cluster.stop(rank1);
    auto frame = next_frame(*c.client);
    INFO(frame.payload);
    CHECK(starts_with(frame.payload, "err deadline_exceeded node rank-1 was lost during the call"));
    CHECK(since(start) < 20000ms);
}

TEST_CASE("deadlines propagate: a method's own calls get what is left of its caller's deadline") {
    CallCluster c({rank1, rank2});
    auto relayed = c.ask(make_call, "n:3 relay 300 4 budget");
    REQUIRE(starts_with(relayed, "ok "));
    auto left = std::stoi(relayed.substr(3));
    CHECK(left > 0);
    CHECK(left <= 300);
}

TEST_CASE("a call whose deadline passed before its callee got to it is not run") {
    CallCluster c({rank1});
    marks = 0;
    auto reply = c.ask(late_mark, "");
    INFO(reply);
    CHECK(starts_with(reply, "ok stalled | err deadline_exceeded"));
    CHECK(reply.find("| ok rank-1:probe") != std::string::npos);
    CHECK(marks.load() == 0);
}

TEST_CASE("two calls from one handler are in flight at once") {
    CallCluster c({rank1, rank2});
    meeting = 0;
    CHECK(c.ask(meet_both, "") == "ok met ok met");
}

TEST_CASE("call_all gives each node's outcome: replies from live nodes, errors from the others") {
    CallCluster c({rank1});
    CHECK(c.ask(call_all, "rank echo hi") == "3=ok:rank-1:hi;4=err:unavailable;");
    CHECK(c.ask(call_all, "ghost echo hi") == "");
}

TEST_CASE("a call behind a swamped link is refused with overloaded") {
    auto config = calls_config();
    config.settings.link_queue_bytes = 4096;
    CallCluster c({rank1}, std::move(config));
    c.ask(make_call, "n:3 echo 2000 warm");  // the link is up: the big call goes straight out
    auto reply = c.ask(overload, "");
    INFO(reply);
    CHECK(reply.find("| err overloaded") != std::string::npos);
}

TEST_CASE("a stopping caller cancels its calls in flight") {
    CallCluster c({rank1});
    slow_started = false;
    {
        std::lock_guard lock(outcome_mutex);
        last_outcome.clear();
    }
    c.client->send(make_call, "n:3 slow 20000 30000");
    for (int i = 0; i < 500 && !slow_started; ++i) std::this_thread::sleep_for(10ms);
    REQUIRE(slow_started);
    c.cluster.stop(svc1);
    std::unique_lock lock(outcome_mutex);
    CHECK(outcome_changed.wait_for(lock, 5s, [] { return !last_outcome.empty(); }));
    CHECK(starts_with(last_outcome, "err cancelled"));
}

TEST_CASE("a client's messages are handled in order while its coroutine handler waits") {
    CallCluster c({rank1});
    c.client->send(slow_first, "");
    c.client->send(then_second, "");
    CHECK(next_frame(*c.client).payload == "first");
    CHECK(next_frame(*c.client).payload == "second");
}

TEST_CASE("blocking work runs on a worker thread and the handler resumes on its node's thread") {
    CallCluster c({rank1});
    CHECK(c.ask(off_thread, "") == "other thread, resumed here");
}

TEST_CASE("a service timer runs every period on its group's node") {
    CallCluster c({rank1});
    auto deadline = steady_clock::now() + 5s;
    int seen = 0;
    while (steady_clock::now() < deadline && (seen = std::stoi(c.ask(timer_ticks, ""))) < 3)
        std::this_thread::sleep_for(20ms);
    CHECK(seen >= 3);
}

TEST_CASE("a single-threaded service keeps plain state under concurrent calls from many clients") {
    scores.clear();  // before the cluster's threads start
    scores_total = 0;
    CallCluster c({rank1});
    constexpr int clients = 8;
    constexpr int each = 100;
    std::atomic<int> ok{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < clients; ++t) {
        threads.emplace_back([&, t] {
            auto client = c.cluster.connect(gate1);
            for (int i = 0; i < each; ++i) {
                client->send(add_score, "player-" + std::to_string(t));
                auto frame = client->receive(frame_timeout);
                if (frame && starts_with(frame->payload, "ok ")) ++ok;
            }
        });
    }
    for (auto& thread : threads) thread.join();
    CHECK(ok.load() == clients * each);
    // Read by rank-1 itself, on its thread: 800 updates of 8 players, none lost.
    CHECK(c.ask(make_call, "n:3 total 2000") == "ok 800 8");
}

TEST_CASE("a starter runs once when its node starts, and its calls work like a handler's") {
    {
        std::lock_guard lock(outcome_mutex);
        starter_outcome.clear();
    }
    CallCluster c({rank1});
    std::unique_lock lock(outcome_mutex);
    CHECK(outcome_changed.wait_for(lock, 10s, [] { return !starter_outcome.empty(); }));
    CHECK(starter_outcome == "ok rank-1:later");
}

TEST_CASE("a backend runs on one io thread unless marked parallel, and a gate uses every one") {
    auto config = calls_config();
    for (auto& node : config.nodes)
        if (node.id == rank2) node.parallel = true;
    TestCluster cluster(std::move(config));
    register_handlers(cluster.handlers());
    cluster.start({rank1}, 2);
    cluster.start({rank2}, 2);
    cluster.start({gate1}, 2);
    CHECK(cluster.process_of(rank1).node(rank1).shard_count() == 1);
    CHECK(cluster.process_of(rank2).node(rank2).shard_count() == 2);
    CHECK(cluster.process_of(gate1).node(gate1).shard_count() == 2);
}

TEST_CASE(
    "a callee that freezes midway fails the call within the heartbeat limit, not at the deadline") {
    auto config = calls_config();
    config.settings.heartbeat_interval_ms = 100;  // a silent link dies after 250-300 ms
    CallCluster c({rank1}, std::move(config));
    auto start = steady_clock::now();
    // stall blocks rank-1's only thread for 1.5 s: it neither answers nor pings. Shorter than a
    // process's 2 s stop grace, so the teardown finds the thread free again (a thread still busy
    // then is abandoned, and its node's links with it).
    auto reply = c.ask(make_call, "n:3 stall 20000 1500");
    auto took = since(start);
    INFO(reply);
    CHECK(starts_with(reply, "err deadline_exceeded node rank-1 was lost during the call"));
    CHECK(took < 1500ms);
}
