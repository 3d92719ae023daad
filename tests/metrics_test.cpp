// The metrics endpoint of nodes running in this process (port 0), scraped over real sockets:
// counters move with traffic, a late shard gives a partial scrape instead of a hang, and hostile
// HTTP clients lose only their own connection.

#include "cluster/observe/metrics_endpoint.hpp"
#include "cluster/runtime/node.hpp"
#include "support/scrape.hpp"
#include "support/test_cluster.hpp"

#include <doctest/doctest.h>

#include <asio/executor_work_guard.hpp>

#include <thread>

using namespace dinx;
using namespace dinx::test;
using namespace std::chrono_literals;
using cluster::MetricsEndpoint;

namespace {

constexpr std::uint32_t unrouted = 999;

// gate-1 (id 1) and im-1 (id 2) in one process, with a metrics_port (port 0: counting on) unless
// `metrics` is false.
struct MeteredCluster {
    explicit MeteredCluster(bool metrics = true) : cluster(config(metrics)) {
        cluster.start({1, 2});
    }
    ~MeteredCluster() {
        for (auto& endpoint : endpoints) endpoint->close();
    }

    static dict::Config config(bool metrics) {
        auto made = make_config({gate(1, "gate-1"), backend(2, "im-1")}, demo_routes());
        if (metrics)
            for (auto& node : made.nodes) node.metrics_port = 0;
        return made;
    }
    cluster::Node& node(std::uint32_t id) { return cluster.process_of(id).node(id); }
    // An endpoint of node `id` on that node's home io thread (as the Supervisor opens them).
    std::uint16_t open(std::uint32_t id, MetricsEndpoint::Limits limits = {}) {
        auto& served = node(id);
        endpoints.push_back(
            MetricsEndpoint::open(served, served.home_io(), "127.0.0.1", 0, limits));
        return endpoints.back()->port();
    }

    TestCluster cluster;
    std::vector<std::shared_ptr<MetricsEndpoint>> endpoints;
};

double value_of(std::string_view text, std::string_view name,
                std::initializer_list<std::pair<std::string_view, std::string_view>> labels = {}) {
    auto value = sample_value(text, name, labels);
    CHECK_MESSAGE(value.has_value(), "no sample ", name, " in\n", text);
    return value.value_or(-1);
}

}  // namespace

TEST_CASE("a scrape shows messages, latency, error frames and clients move with the traffic") {
    MeteredCluster metered;
    auto gate_port = metered.open(1);
    auto im_port = metered.open(2);
    auto client = metered.cluster.connect(1);
    for (int i = 0; i < 5; ++i) {
        client->send(whoami, "who?");
        CHECK(next_frame(*client).msg_id == whoami);
    }
    client->send(unrouted, "nobody");
    CHECK(next_frame(*client).msg_id == metered.cluster.error_msg_id());

    auto gate = scrape(gate_port);
    auto id = std::to_string(whoami);
    CHECK(value_of(gate, "dinx_scrape_complete") == 1);
    CHECK(value_of(gate, "dinx_clients_connected") == 1);
    CHECK(value_of(gate, "dinx_messages_in_total", {{"msg_id", id}, {"route", "msg20"}}) == 5);
    CHECK(value_of(gate, "dinx_message_bytes_in_total", {{"msg_id", id}}) == 5 * 4);
    CHECK(value_of(gate, "dinx_messages_out_total", {{"msg_id", id}}) == 5);
    CHECK(value_of(gate, "dinx_request_latency_seconds_count", {{"msg_id", id}}) == 5);
    CHECK(value_of(gate, "dinx_request_latency_seconds_bucket", {{"msg_id", id}, {"le", "+Inf"}}) ==
          5);
    CHECK(value_of(gate, "dinx_request_latency_seconds_sum", {{"msg_id", id}}) > 0);
    CHECK(value_of(gate, "dinx_messages_in_total", {{"msg_id", "other"}}) == 1);
    CHECK(value_of(gate, "dinx_error_frames_total", {{"code", "no_route"}}) == 1);
    CHECK(value_of(gate, "dinx_error_frames_total", {{"code", "unavailable"}}) == 0);
    CHECK(value_of(gate, "dinx_messages_out_total",
                   {{"msg_id", std::to_string(metered.cluster.error_msg_id())},
                    {"route", "error"}}) == 1);
    CHECK(value_of(gate, "dinx_link_state", {{"peer", "im-1"}, {"state", "up"}}) >= 1);
    CHECK(value_of(gate, "dinx_link_dials_total", {{"peer", "im-1"}}) >= 1);
    CHECK(value_of(gate, "dinx_config_version",
                   {{"version", metered.node(1).topology()->version()}}) == 1);
    CHECK(value_of(gate, "dinx_process_resident_memory_bytes") > 0);

    // The backend counts the requests it handled and the replies it sent back.
    auto im = scrape(im_port);
    CHECK(value_of(im, "dinx_messages_in_total", {{"node", "im-1"}, {"msg_id", id}}) == 5);
    CHECK(value_of(im, "dinx_messages_out_total", {{"msg_id", id}}) == 5);
    CHECK_FALSE(sample_value(im, "dinx_clients_connected"));
    CHECK_FALSE(sample_value(im, "dinx_request_latency_seconds_count", {{"msg_id", id}}));

    client.reset();  // its close is counted out on the gate's shard, soon
    for (int i = 0; i < 200 && value_of(scrape(gate_port), "dinx_clients_connected") != 0; ++i)
        std::this_thread::sleep_for(10ms);
    CHECK(value_of(scrape(gate_port), "dinx_clients_connected") == 0);
}

TEST_CASE("a node without a metrics_port counts no messages, and its scrape says so") {
    MeteredCluster plain(false);
    auto port = plain.open(1);
    auto client = plain.cluster.connect(1);
    client->send(whoami, "who?");
    CHECK(next_frame(*client).msg_id == whoami);
    auto text = scrape(port);
    CHECK(value_of(text, "dinx_clients_connected") == 1);
    CHECK_FALSE(sample_value(text, "dinx_messages_in_total"));
    CHECK_FALSE(sample_value(text, "dinx_request_latency_seconds_count"));
}

TEST_CASE("a scrape whose shard does not answer in time is partial, not a hang") {
    MeteredCluster metered;
    // The endpoint on a thread of its own: the gate's io thread that the hold blocks may be the
    // one the node's endpoint would run on.
    asio::io_context io;
    auto work = asio::make_work_guard(io);
    std::thread runner([&] { io.run(); });
    MetricsEndpoint::Limits limits;
    limits.scrape_timeout = 300ms;
    auto endpoint = MetricsEndpoint::open(metered.node(1), io, "127.0.0.1", 0, limits);

    hold_switch().arm();
    auto client = metered.cluster.connect(1);
    client->send(hold, "");
    REQUIRE(hold_switch().wait_until_held(5s));
    auto started = std::chrono::steady_clock::now();
    auto partial = scrape(endpoint->port());
    CHECK(std::chrono::steady_clock::now() - started < 3s);
    CHECK(value_of(partial, "dinx_scrape_complete") == 0);
    CHECK(value_of(partial, "dinx_config_generation") == 0);
    CHECK_FALSE(sample_value(partial, "dinx_messages_in_total"));
    hold_switch().release();
    CHECK(next_frame(*client).payload == "released");
    // The late answer of the first scrape comes before this one's: nothing is left to post to
    // `io` once this one is complete.
    CHECK(value_of(scrape(endpoint->port()), "dinx_scrape_complete") == 1);

    endpoint->close();
    work.reset();
    runner.join();
}

TEST_CASE("hostile HTTP clients lose their own connection and nobody else's") {
    MeteredCluster metered;
    MetricsEndpoint::Limits limits;
    limits.read_timeout = 300ms;
    auto port = metered.open(1, limits);

    auto oversized = http_exchange(
        port, "GET /metrics HTTP/1.1\r\nX-Filler: " + std::string(9000, 'a') + "\r\n\r\n");
    CHECK(oversized.received.starts_with("HTTP/1.1 431 "));
    CHECK(oversized.closed);
    constexpr char tls_hello[] = "\x16\x03\x01\x00\xff garbage\r\n\r\n";  // holds a NUL
    auto garbage = http_exchange(port, std::string(tls_hello, sizeof tls_hello - 1));
    CHECK(garbage.received.starts_with("HTTP/1.1 400 "));
    CHECK(garbage.closed);
    CHECK(
        http_exchange(port, "GET /metrics HTTP/9.9\r\n\r\n").received.starts_with("HTTP/1.1 400 "));
    CHECK(http_exchange(port, "GET /metrics HTTP/1.1\r\nno colon here\r\n\r\n")
              .received.starts_with("HTTP/1.1 400 "));
    CHECK(http_exchange(port, "POST /metrics HTTP/1.1\r\n\r\n")
              .received.starts_with("HTTP/1.1 405 "));
    CHECK(http_exchange(port, "GET /admin HTTP/1.1\r\n\r\n").received.starts_with("HTTP/1.1 404 "));
    auto head = http_exchange(port, "HEAD /metrics HTTP/1.0\r\n\r\n");
    CHECK(head.received.starts_with("HTTP/1.1 200 "));
    CHECK(head.received.ends_with("\r\n\r\n"));  // no body

    // A request that never finishes is closed at the read deadline, while others are served.
    std::thread slow([&] {
        auto never = http_exchange(port, "GET /metrics HTTP/1.1\r\nHost: x\r\n", 3s);
        CHECK(never.closed);
        CHECK(never.received.empty());
        CHECK(never.took >= 250ms);
        CHECK(never.took < 2s);
    });
    std::this_thread::sleep_for(50ms);
    CHECK(value_of(scrape(port), "dinx_scrape_complete") == 1);
    slow.join();

    // Connections that send nothing cannot take every place: the oldest ones go first.
    std::vector<std::thread> idlers;
    for (int i = 0; i < 40; ++i) idlers.emplace_back([&] { http_exchange(port, "", 2s); });
    std::this_thread::sleep_for(100ms);
    CHECK(value_of(scrape(port), "dinx_scrape_complete") == 1);
    for (auto& idler : idlers) idler.join();
    CHECK(value_of(scrape(port), "dinx_scrape_complete") == 1);
}
