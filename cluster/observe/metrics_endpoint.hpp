#pragma once
// A node's Prometheus endpoint: a tiny HTTP/1.1 server whose one page, GET /metrics, is the
// node's metrics in text format 0.0.4. It runs on an io_context of the process (one thread),
// never blocks it, and protects itself: a request head is at most 8 KiB and must arrive within
// 5 s, at most 16 connections are served at once (one more closes the oldest that has not sent
// its whole head yet, so idle connections cannot lock a scraper out), each answer closes its
// connection, and a scrape whose shards do not all answer within 2 s gets the families that
// need no shard, with dinx_scrape_complete 0, instead of hanging.

#include "cluster/observe/node_stats.hpp"

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dinx::cluster {

class Node;

/// GET /metrics of one node over HTTP.
class MetricsEndpoint : public std::enable_shared_from_this<MetricsEndpoint> {
public:
    /// How much a client may ask of it.
    struct Limits {
        std::size_t max_head_bytes = 8192;             ///< request line and headers; more gets 431
        std::chrono::milliseconds read_timeout{5000};  ///< connect to the end of the head
        std::chrono::milliseconds scrape_timeout{2000};  ///< the shards' answers
        std::chrono::milliseconds write_timeout{5000};   ///< the response's last byte
        std::size_t max_connections = 16;                ///< served at once
    };

    /// Listens on `host`:`port` (0: any free port) on `io`, which one thread runs, and serves
    /// `node`'s metrics there. Throws std::system_error when it cannot listen. `io` must outlive
    /// the scrapes in flight: a late shard posts its report there.
    static std::shared_ptr<MetricsEndpoint> open(Node& node, asio::io_context& io,
                                                 const std::string& host, std::uint16_t port,
                                                 Limits limits);
    /// open() with the default limits.
    static std::shared_ptr<MetricsEndpoint> open(Node& node, asio::io_context& io,
                                                 const std::string& host, std::uint16_t port) {
        return open(node, io, host, port, Limits{});
    }
    MetricsEndpoint(const MetricsEndpoint&) = delete;
    MetricsEndpoint& operator=(const MetricsEndpoint&) = delete;

    /// The port it listens on.
    std::uint16_t port() const { return port_; }
    /// Stops listening and closes every connection; from any thread. What it still holds goes
    /// once its io_context has run the close (or is destroyed).
    void close();

private:
    struct Connection;

    MetricsEndpoint(Node& node, asio::io_context& io, Limits limits);
    /// Binds and listens; throws std::system_error naming the node.
    void listen(const std::string& host, std::uint16_t port);
    /// Closes what is open (on the io thread).
    void shut();
    /// Makes room for one more connection: closes the oldest one still sending its head; false
    /// when every connection is past that (it is then the new one that goes).
    bool make_room();
    // `self` keeps the endpoint alive while a coroutine of it runs.
    asio::awaitable<void> accept_loop(std::shared_ptr<MetricsEndpoint> self);
    asio::awaitable<void> serve(std::shared_ptr<MetricsEndpoint> self,
                                std::shared_ptr<Connection> connection);
    /// Reads the request head; its answer, or empty when the connection just closes.
    asio::awaitable<std::string> answer(std::shared_ptr<Connection> connection);
    /// The answer to a well-formed request head.
    asio::awaitable<std::string> answer_request(std::shared_ptr<Connection> connection,
                                                std::string_view head);
    /// Asks the node's shards for their reports; null when they did not all answer in time.
    asio::awaitable<std::optional<std::vector<ShardStats>>> collect(
        std::shared_ptr<Connection> connection);
    /// The metrics text, with `stats` (null: late) gathered in `seconds`.
    std::string render(const std::vector<ShardStats>* stats, double seconds);
    /// Writes `response`, then closes the connection without cutting the response off.
    asio::awaitable<void> finish(Connection& connection, std::string response);

    Node& node_;
    asio::io_context& io_;
    Limits limits_;
    asio::ip::tcp::acceptor acceptor_;
    asio::steady_timer pause_;                   // after a failed accept (out of descriptors)
    std::map<std::uint64_t, Connection*> live_;  // connections being served, oldest first
    std::uint64_t next_seq_ = 0;
    bool closed_ = false;
    std::uint16_t port_ = 0;
};

}  // namespace dinx::cluster
