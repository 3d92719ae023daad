// The pieces of a scrape without sockets: the text format's escaping and histograms, the
// bounded counts by name, latency buckets, and which HTTP request heads the endpoint takes.

#include "cluster/observe/http_message.hpp"
#include "cluster/observe/latency_histogram.hpp"
#include "cluster/observe/named_counts.hpp"
#include "cluster/observe/prometheus_writer.hpp"

#include <doctest/doctest.h>

using namespace dinx::cluster;
using namespace std::chrono_literals;
using Common = std::vector<std::pair<std::string, std::string>>;

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
