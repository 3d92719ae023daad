// The pieces of a scrape without sockets: a shard's rows by msgID, the text format's escaping
// and histograms, the bounded counts by name, latency buckets, and which HTTP request heads the
// endpoint takes.

#include "cluster/observe/http_message.hpp"
#include "cluster/observe/latency_histogram.hpp"
#include "cluster/observe/named_counts.hpp"
#include "cluster/observe/prometheus_writer.hpp"
#include "cluster/observe/shard_metrics.hpp"
#include "dict/config_loader.hpp"
#include "tests/support/test_configs.hpp"

#include <doctest/doctest.h>

using namespace dinx::cluster;
using namespace std::chrono_literals;
using Common = std::vector<std::pair<std::string, std::string>>;

namespace {

// The row of `msg_id` in `metrics`' counts (the "other" row, 0, when it has none of its own).
const MsgCounts& row_of(const ShardMetrics& metrics, std::uint32_t msg_id) {
    const auto& rows = metrics.counts().by_msg;
    for (std::size_t i = 1; i < rows.size(); ++i)
        if (rows[i].msg_id == msg_id) return rows[i];
    return rows[0];
}

dinx::dict::Topology topology_with(std::string_view routes) {
    return dinx::dict::Topology(dinx::dict::parse_config(dinx::test::one_gate, routes));
}

}  // namespace

TEST_CASE("a shard counts messages by routed msgID, the rest in one row, only when enabled") {
    auto topology = topology_with(
        "[[gate]]\nmsg_id = 1\nname = \"login\"\n"
        "[[im]]\nmsg_id = 70000\nname = \"far\"\n");
    ShardMetrics metrics;
    metrics.count_in(1, 5);  // off: nothing counted, nothing allocated
    CHECK(metrics.counts().by_msg.empty());
    CHECK(metrics.send_time() == ShardMetrics::Clock::time_point{});
    metrics.enable(topology);
    metrics.count_in(1, 5);
    metrics.count_in(70000, 3);
    metrics.count_in(2, 7);  // not routed
    metrics.count_in(123456, 1);
    metrics.count_out(topology.settings().error_msg_id, 40);
    CHECK(row_of(metrics, 1).in == 1);
    CHECK(row_of(metrics, 1).in_bytes == 5);
    CHECK(row_of(metrics, 70000).in_bytes == 3);
    CHECK(metrics.counts().by_msg[0].in == 2);
    CHECK(row_of(metrics, topology.settings().error_msg_id).out_bytes == 40);
    metrics.observe_latency(70000, ShardMetrics::Clock::now() - 3ms);
    CHECK(row_of(metrics, 70000).latency.count == 1);
    CHECK(row_of(metrics, 70000).latency.sum_ns >= 3'000'000);

    // A reload that routes msgID 2 gives it a row from then on; msgID 70000 keeps its counts.
    metrics.add_routes(topology_with("[[gate]]\nmsg_id = 2\nname = \"logout\"\n"));
    metrics.count_in(2, 1);
    CHECK(row_of(metrics, 2).in == 1);
    CHECK(metrics.counts().by_msg[0].in == 2);
    CHECK(row_of(metrics, 70000).in == 1);
}

TEST_CASE("label values and help texts are escaped as the text format wants") {
    PrometheusWriter out(Common{{"node", "gate \"1\""}});
    out.family("dinx_x_total", "counter", "a\\b\nc \"quoted\"");
    out.sample("", {{"route", "back\\slash\nnew line"}}, std::uint64_t{7});
    CHECK(out.text() ==
          "# HELP dinx_x_total a\\\\b\\nc \"quoted\"\n"
          "# TYPE dinx_x_total counter\n"
          "dinx_x_total{node=\"gate \\\"1\\\"\",route=\"back\\\\slash\\nnew line\"} 7\n");
}

TEST_CASE("a histogram's buckets are cumulative and end with +Inf, then _sum and _count") {
    PrometheusWriter out(Common{});
    out.family("h_seconds", "histogram", "h");
    out.histogram({{"msg_id", "3"}}, {0.5, 1}, {2, 0, 3}, 5, 7.25);
    CHECK(out.text() ==
          "# HELP h_seconds h\n# TYPE h_seconds histogram\n"
          "h_seconds_bucket{msg_id=\"3\",le=\"0.5\"} 2\n"
          "h_seconds_bucket{msg_id=\"3\",le=\"1\"} 2\n"
          "h_seconds_bucket{msg_id=\"3\",le=\"+Inf\"} 5\n"
          "h_seconds_sum{msg_id=\"3\"} 7.25\n"
          "h_seconds_count{msg_id=\"3\"} 5\n");
}

TEST_CASE("numbers are written as Prometheus parses them") {
    CHECK(prometheus_number(0.00005) == "5e-05");
    CHECK(prometheus_number(2.5) == "2.5");
    CHECK(prometheus_number(1.0 / 0.0) == "+Inf");
}

TEST_CASE("a latency falls in the first bucket whose bound is not below it") {
    LatencyHistogram histogram;
    histogram.observe(50us);  // on the first bound: in it
    histogram.observe(51us);  // just past it: the next
    histogram.observe(-5us);  // a clock that went back counts as 0
    histogram.observe(1h);    // past every bound: +Inf
    CHECK(histogram.buckets[0] == 2);
    CHECK(histogram.buckets[1] == 1);
    CHECK(histogram.buckets.back() == 1);
    CHECK(histogram.count == 4);
    CHECK(histogram.sum_ns == 50'000 + 51'000 + 3'600'000'000'000ull);
}

TEST_CASE("counts by name stay bounded: names past the limit share other") {
    NamedCounts counts;
    for (int i = 0; i < 100; ++i) counts.add("code" + std::to_string(i));
    counts.add("code0", 2);
    CHECK(counts.entries().size() == NamedCounts::limit);
    CHECK(counts.entries().front() == std::pair<std::string, std::uint64_t>{"code0", 3});
    CHECK(counts.entries().back().first == "other");
    CHECK(counts.entries().back().second == 100 - (NamedCounts::limit - 1));
}

TEST_CASE("request heads: GET and HEAD of HTTP/1.x are taken, the rest refused") {
    auto get = parse_http_request("GET /metrics?x=1 HTTP/1.1\r\nHost: a\r\nAccept: */*");
    REQUIRE(get);
    CHECK(get->method == "GET");
    CHECK(get->path == "/metrics");
    CHECK(parse_http_request("HEAD / HTTP/1.0"));
    CHECK_FALSE(parse_http_request(""));
    CHECK_FALSE(parse_http_request("GET /metrics"));
    CHECK_FALSE(parse_http_request("GET /metrics HTTP/2"));
    CHECK_FALSE(parse_http_request("GET  /metrics HTTP/1.1"));
    CHECK_FALSE(parse_http_request("GET metrics HTTP/1.1"));
    CHECK_FALSE(parse_http_request("GET /met rics HTTP/1.1"));
    CHECK_FALSE(parse_http_request(std::string("GET /\0 HTTP/1.1", 15)));
    CHECK_FALSE(parse_http_request("GET / HTTP/1.1\r\nno colon"));
    CHECK_FALSE(parse_http_request("GET / HTTP/1.1\r\n folded: line"));
    CHECK_FALSE(parse_http_request("GET / HTTP/1.1\r\nX: a\x01z"));
}

TEST_CASE("a response closes its connection and may leave its body out") {
    auto full = http_response(404, "text/plain", "gone\n");
    CHECK(full ==
          "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n"
          "Connection: close\r\n\r\ngone\n");
    auto head = http_response(200, "text/plain", "body", true);
    CHECK(head.ends_with("Content-Length: 4\r\nConnection: close\r\n\r\n"));
}
