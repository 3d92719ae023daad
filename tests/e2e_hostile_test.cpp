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
    for (int probe = 0; steady_clock::now() < deadline; ++probe) {
        auto client = connect_to_gate(cluster);
        log_in(client, "probe-" + std::to_string(probe));
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
    // Backends first: see start_listening.
    auto& im1 = cluster.start_listening({2});
    cluster.start_listening({3});
    cluster.start_listening({1});
    std::deque<BlockingClient> clients;
    for (int c = 0; c < 16; ++c) {
        clients.emplace_back("127.0.0.1", conf.gate_port, 2s);
        log_in(clients.back(), "player-" + std::to_string(c));
    }
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
    // Backends first: see start_listening.
    auto& im1 = cluster.start_listening({2});
    cluster.start_listening({3});
    cluster.start_listening({1});
    INFO(cluster.logs());
    // Clients sticky to im-1: their relays go gate -> im-1 -> im-2, and back.
    std::deque<BlockingClient> clients;
    for (int c = 0; clients.size() < 8; ++c) {
        auto& client = clients.emplace_back("127.0.0.1", conf.gate_port, 2s);
        log_in(client, "player-" + std::to_string(c));
        client.send(5, "warm");
        if (receive_frame(client).payload != "im-2 via im-1: warm") clients.pop_back();
    }
    // Requests on every hop when im-1 freezes: im-2 has answered some of them, and im-1 will
    // never pass those answers (or their ends) on. A first half shows im-1 is at work; the
    // second half follows at once, and im-1 is stopped while both are on their way.
    constexpr int half = 40;
    auto send_half = [&](int from) {
        for (auto& client : clients) {
            dinx::ByteBuffer frames;
            for (int i = from; i < from + half; ++i)
                dinx::node::append_frame(frames, 5, dinx::as_bytes("r" + std::to_string(i)));
            client.send_raw(frames);
        }
    };
    send_half(0);
    auto first = clients.front().receive(5s);  // (counted below with the others)
    REQUIRE(first.has_value());
    send_half(half);
    im1.send_signal(SIGSTOP);
    REQUIRE(wait_until_stopped(im1.pid(), 5s));
    std::map<std::string, int> outcomes;
    ++outcomes[first->msg_id == error_msg_id ? "error" : "reply"];
    for (auto& client : clients) {
        std::set<std::string> replied;
        if (&client == &clients.front()) replied.insert(first->payload);
        for (int i = &client == &clients.front() ? 1 : 0; i < 2 * half; ++i) {
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

namespace {

/// The attack tool built here.
std::string hostile_path() {
    return DINX_HOSTILE_PATH;
}

/// True when RSS figures mean something (sanitizers inflate them).
constexpr bool rss_is_meaningful() {
#ifdef DINX_SANITIZED
    return false;
#else
    return true;
#endif
}

/// A field of /proc/<pid>/status in KiB ("VmRSS", "VmHWM"), 0 when unreadable.
std::uint64_t status_kib(pid_t pid, std::string_view field) {
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(status, line))
        if (line.starts_with(std::string(field) + ":"))
            return std::stoull(line.substr(field.size() + 1));
    return 0;
}

/// Runs dinx-hostile against `port` for `seconds` and waits for it; its output line. With a
/// `login` prefix its clients log in first (the demo refuses 3, 4 and 5 to guests).
std::string attack(Cluster& cluster, std::uint16_t port, const std::string& mode, int clients,
                   int size, std::uint32_t msg_id, double seconds, const std::string& login = {}) {
    std::vector<std::string> argv{hostile_path(), "--port", std::to_string(port), "--mode", mode};
    argv.insert(argv.end(),
                {"--clients", std::to_string(clients), "--size", std::to_string(size), "--msg-id",
                 std::to_string(msg_id), "--duration", std::to_string(seconds)});
    if (!login.empty()) argv.insert(argv.end(), {"--login", login});
    auto& tool = cluster.start_tool(std::move(argv), "hostile-" + mode);
    // Sanitized builds drain a pipelining flood several times slower (TSan timed out at 20 s).
    auto drain = rss_is_meaningful() ? 20s : 60s;
    REQUIRE(tool.wait_for_exit(milliseconds(static_cast<int>(seconds * 1000)) + drain) == 0);
    return tool.read_output();
}

/// The "errors N" count of a dinx-load report, or -1.
long load_errors(const std::string& report) {
    auto at = report.find("errors ");
    return at == std::string::npos ? -1 : std::stol(report.substr(at + 7));
}

}  // namespace

TEST_CASE("a client that half-closes after its requests gets every answer, then EOF") {
    Cluster cluster;
    // Backends first: see start_listening.
    cluster.start_listening({2});
    cluster.start_listening({3});
    cluster.start_listening({1});
    auto client = connect_to_gate(cluster);
    client.send(1, "alice");  // on the gate
    client.send(3, "hello");  // on an im node
    client.send(5, "ping");   // forwarded from one im node to the other
    client.shutdown_write();  // as nc -N does
    std::vector<std::string> frames;
    while (auto frame = client.receive(5s)) frames.push_back(frame->payload);
    INFO(cluster.logs());
    REQUIRE(frames.size() == 3);
    CHECK(frames[0] == "welcome alice");
    CHECK(std::count_if(frames.begin(), frames.end(),
                        [](const std::string& f) { return contains(f, ": hello"); }) == 1);
    CHECK(std::count_if(frames.begin(), frames.end(),
                        [](const std::string& f) { return contains(f, " via "); }) == 1);
    CHECK(client.closed());
}

TEST_CASE("a gate stays under its memory budget under hostile loads and shrinks back after") {
    Cluster cluster;
    // Backends first: see start_listening.
    auto& im1 = cluster.start_listening({2});
    auto& im2 = cluster.start_listening({3});
    auto& gate = cluster.start_listening({1});
    INFO(cluster.logs());
    auto port = cluster.conf().gate_port;
    auto idle_kib = status_kib(gate.pid(), "VmRSS");
    // 1. 60 KB broadcasts to 500 clients that never read.
    auto& readers =
        cluster.start_tool({hostile_path(), "--port", std::to_string(port), "--mode", "readless",
                            "--clients", "500", "--msg-id", "99999", "--duration", "6"},
                           "readless");
    attack(cluster, port, "broadcast", 1, 60000, 4, 4, "flood-");
    REQUIRE(readers.wait_for_exit(20s) == 0);
    // 2. 200 clients pipelining 64 KB requests and never reading.
    attack(cluster, port, "pipeline", 200, 65536, 6, 4);
    // 3. The same while every im node is frozen: requests pile up for them.
    im1.send_signal(SIGSTOP);
    im2.send_signal(SIGSTOP);
    attack(cluster, port, "pipeline", 100, 60000, 3, 4, "frozen-");
    im1.send_signal(SIGCONT);
    im2.send_signal(SIGCONT);
    auto peak_kib = status_kib(gate.pid(), "VmHWM");
    // The attackers are gone: their sessions close, and freed memory goes back to the system.
    REQUIRE(wait_until_node_answers(cluster, "im-1", 15s));
    std::uint64_t after_kib = 0;
    auto deadline = steady_clock::now() + 10s;
    while (steady_clock::now() < deadline) {
        after_kib = status_kib(gate.pid(), "VmRSS");
        if (after_kib < idle_kib + 32 * 1024) break;
        std::this_thread::sleep_for(100ms);
    }
    MESSAGE("gate RSS: idle " << idle_kib / 1024 << " MiB, peak " << peak_kib / 1024
                              << " MiB, after " << after_kib / 1024 << " MiB");
    CHECK(gate.running());
    if (rss_is_meaningful()) {
        CHECK(peak_kib < 256 * 1024);  // memory_budget_bytes' default
        CHECK(after_kib < idle_kib + 32 * 1024);
    }
}

TEST_CASE("honest clients get no error while a few clients pipeline 64 KB and never read") {
    Cluster cluster;
    // Backends first: see start_listening.
    cluster.start_listening({2});
    cluster.start_listening({3});
    cluster.start_listening({1});
    INFO(cluster.logs());
    auto port = std::to_string(cluster.conf().gate_port);
    auto& hostile = cluster.start_tool({hostile_path(), "--port", port, "--mode", "pipeline",
                                        "--clients", "4", "--size", "65536", "--duration", "6"},
                                       "pipeliners");
    auto& honest = cluster.start_tool(
        {load_path(), "--port", port, "-c", "16", "-d", "4", "--warmup", "1", "--duration", "3"},
        "honest");
    REQUIRE(honest.wait_for_exit(30s).has_value());
    auto report = honest.read_output();
    MESSAGE(report);
    CHECK(load_errors(report) == 0);
    REQUIRE(hostile.wait_for_exit(30s) == 0);
}

TEST_CASE("trickling and silent clients are cut in time, logged in one line, and lock nobody out") {
    DemoConf conf;
    Cluster cluster(conf);
    // The default timeouts: a frame must complete in 5 s, a first frame come in 10 s.
    write_file(cluster.dir() / "dinx.toml", "[cluster]\nmax_connections = 200\n" + conf.nodes());
    // Backends first: see start_listening.
    cluster.start_listening({2});
    auto& gate = cluster.start_listening({1});
    INFO(cluster.logs());
    auto port = std::to_string(conf.gate_port);
    auto& silent = cluster.start_tool(
        {hostile_path(), "--port", port, "--mode", "silent", "--clients", "150", "--duration", "7"},
        "silent");
    auto& trickle = cluster.start_tool({hostile_path(), "--port", port, "--mode", "trickle",
                                        "--clients", "50", "--size", "100", "--duration", "7"},
                                       "trickle");
    auto all_in = [](ChildProcess& tool, std::string_view count) {
        auto deadline = steady_clock::now() + 10s;
        while (steady_clock::now() < deadline && tool.running() &&
               !contains(tool.read_output(), "HOSTILE connected=" + std::string(count)))
            std::this_thread::sleep_for(10ms);
        return contains(tool.read_output(), "HOSTILE connected=" + std::string(count));
    };
    REQUIRE(all_in(silent, "150"));
    REQUIRE(all_in(trickle, "50"));
    // The gate is full of them: an honest player still gets in, in place of a silent one,
    // while they are all still there (for 7 s).
    auto deadline = steady_clock::now() + 3s;
    int served = 0;
    for (int attempt = 0; served < 5 && steady_clock::now() < deadline; ++attempt) {
        auto honest = connect_to_gate(cluster);
        auto name = "honest-" + std::to_string(attempt);
        honest.send(1, name);
        auto welcome = honest.receive(1s);
        if (welcome && welcome->payload == "welcome " + name) honest.send(3, "let me in");
        if (auto frame = honest.receive(1s); frame && frame->payload == "im-1: let me in")
            ++served;
        else
            std::this_thread::sleep_for(50ms);
    }
    CHECK(served == 5);
    CHECK(silent.running());
    REQUIRE(silent.wait_for_exit(20s) == 0);
    REQUIRE(trickle.wait_for_exit(20s) == 0);
    // They kept reconnecting and were cut each time: a summary, not a line per client.
    auto cuts = [](const std::string& output) {
        auto at = output.find("cuts=");
        return at == std::string::npos ? 0 : std::stoi(output.substr(at + 5));
    };
    // Every trickler's frame timed out; five of them or of the silent ones made room.
    CHECK(cuts(trickle.read_output()) >= 50);
    CHECK(cuts(trickle.read_output()) + cuts(silent.read_output()) >= 55);
    // The timeouts' summary line comes at most 5 s after the previous one.
    auto summary_deadline = steady_clock::now() + 10s;
    while (!contains(gate.read_output(), "took too long to send one frame") &&
           steady_clock::now() < summary_deadline)
        std::this_thread::sleep_for(50ms);
    auto log = gate.read_output();
    auto lines = std::count(log.begin(), log.end(), '\n');
    MESSAGE("gate log: " << lines << " lines for "
                         << cuts(trickle.read_output()) + cuts(silent.read_output()) << " cuts");
    CHECK(lines < 20);
    CHECK(contains(log, "took too long to send one frame"));
}

TEST_CASE("connections that announce 16 MiB before the link handshake cannot grow a backend") {
    Cluster cluster;
    // Backends first: see start_listening.
    auto& im1 = cluster.start_listening({2});
    cluster.start_listening({3});
    cluster.start_listening({1});
    INFO(cluster.logs());
    auto output = attack(cluster, cluster.conf().im1_port, "preauth", 200, 16 << 20, 1, 3);
    auto peak_kib = status_kib(im1.pid(), "VmHWM");
    MESSAGE(output << "im-1 peak RSS " << peak_kib / 1024 << " MiB");
    CHECK(im1.running());
    if (rss_is_meaningful()) CHECK(peak_kib < 64 * 1024);
    check_script_passes(cluster);  // real links still come up
}
