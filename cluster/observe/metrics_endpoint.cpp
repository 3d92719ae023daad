#include "cluster/observe/metrics_endpoint.hpp"

#include "cluster/observe/http_message.hpp"
#include "cluster/observe/node_metrics.hpp"
#include "cluster/runtime/node.hpp"
#include "node/spawn.hpp"

#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/post.hpp>
#include <asio/read_until.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include <array>

namespace dinx::cluster {
namespace {

using namespace asio::experimental::awaitable_operators;
using Clock = std::chrono::steady_clock;
constexpr auto use_tuple = asio::experimental::as_tuple(asio::use_awaitable);

constexpr std::string_view metrics_type = "text/plain; version=0.0.4; charset=utf-8";
constexpr std::string_view text_type = "text/plain; charset=utf-8";
// After the answer, what the client still sends is read (and dropped) this long at most.
constexpr std::chrono::milliseconds linger{1000};
constexpr std::size_t linger_bytes = 64 * 1024;
// After a failed accept (out of file descriptors), the next one waits this long.
constexpr std::chrono::milliseconds accept_pause{100};

// `operation`'s result, or nullopt when `timer` fired first (or was cancelled: a close).
template <class Result>
asio::awaitable<std::optional<Result>> before(asio::steady_timer& timer, Clock::time_point until,
                                              asio::awaitable<Result> operation) {
    timer.expires_at(until);
    auto outcome = co_await (std::move(operation) || timer.async_wait(use_tuple));
    if (outcome.index() == 1) co_return std::nullopt;
    co_return std::get<0>(std::move(outcome));
}

}  // namespace

/// One client of the endpoint, owned by the coroutine serving it.
struct MetricsEndpoint::Connection {
    Connection(asio::ip::tcp::socket connected, std::uint64_t number)
        : socket(std::move(connected)), timer(socket.get_executor()), seq(number) {}

    asio::ip::tcp::socket socket;
    asio::steady_timer timer;  // the current step's deadline; woken when the stats arrive
    std::uint64_t seq;         // accept order
    bool reading_head = true;  // until its whole head arrived
    std::optional<std::vector<ShardStats>> stats;
    bool awaiting_stats = false;
};

MetricsEndpoint::MetricsEndpoint(Node& node, asio::io_context& io, Limits limits)
    : node_(node), io_(io), limits_(limits), acceptor_(io), pause_(io) {}

std::shared_ptr<MetricsEndpoint> MetricsEndpoint::open(Node& node, asio::io_context& io,
                                                       const std::string& host, std::uint16_t port,
                                                       Limits limits) {
    std::shared_ptr<MetricsEndpoint> endpoint(new MetricsEndpoint(node, io, limits));
    endpoint->listen(host, port);
    node::spawn_detached(io.get_executor(), endpoint->accept_loop(endpoint),
                         node.info().name + "'s metrics listener");
    node.log().info("{} serves metrics on http://{}:{}/metrics", node.info().name, host,
                    endpoint->port());
    return endpoint;
}

void MetricsEndpoint::listen(const std::string& host, std::uint16_t port) {
    try {
        asio::ip::tcp::resolver resolver(io_);
        auto where = resolver.resolve(host, std::to_string(port)).begin()->endpoint();
        acceptor_.open(where.protocol());
        acceptor_.set_option(asio::socket_base::reuse_address(true));
        acceptor_.bind(where);
        acceptor_.listen();
        port_ = acceptor_.local_endpoint().port();
    } catch (const std::system_error& error) {
        throw std::system_error(error.code(), node_.info().name + " cannot listen for metrics on " +
                                                  host + ":" + std::to_string(port));
    }
}

void MetricsEndpoint::close() {
    asio::post(io_, [self = shared_from_this()] { self->shut(); });
}

void MetricsEndpoint::shut() {
    closed_ = true;
    std::error_code ignored;
    acceptor_.close(ignored);
    pause_.cancel();
    for (auto& [seq, connection] : live_) {
        connection->socket.close(ignored);
        connection->timer.cancel();
    }
}

asio::awaitable<void> MetricsEndpoint::accept_loop(std::shared_ptr<MetricsEndpoint> self) {
    while (!closed_) {
        auto [error, socket] = co_await acceptor_.async_accept(use_tuple);
        if (closed_ || error == asio::error::operation_aborted) co_return;
        if (error) {  // out of descriptors, say: retry later rather than spin on the error
            node_.log().debug("metrics endpoint: accept failed: {}", error.message());
            pause_.expires_after(accept_pause);
            co_await pause_.async_wait(use_tuple);
            continue;
        }
        if (live_.size() >= limits_.max_connections && !make_room()) {
            std::error_code ignored;
            socket.close(ignored);  // every place is taken by a scrape being answered
            continue;
        }
        auto connection = std::make_shared<Connection>(std::move(socket), next_seq_++);
        live_.emplace(connection->seq, connection.get());  // (counted before it starts)
        node::spawn_detached(io_.get_executor(), serve(self, std::move(connection)),
                             "a metrics connection");
    }
}

bool MetricsEndpoint::make_room() {
    for (auto& [seq, connection] : live_) {
        if (!connection->reading_head) continue;
        std::error_code ignored;
        connection->socket.close(ignored);  // its read ends, and its coroutine with it
        live_.erase(seq);
        return true;
    }
    return false;
}

asio::awaitable<void> MetricsEndpoint::serve(std::shared_ptr<MetricsEndpoint>,
                                             std::shared_ptr<Connection> connection) {
    struct Leave {
        std::map<std::uint64_t, Connection*>& live;
        std::uint64_t seq;
        ~Leave() { live.erase(seq); }
    } leave{live_, connection->seq};
    auto response = co_await answer(connection);
    if (!response.empty() && !closed_) co_await finish(*connection, std::move(response));
    std::error_code ignored;
    connection->socket.close(ignored);
}

asio::awaitable<std::string> MetricsEndpoint::answer(std::shared_ptr<Connection> connection) {
    std::string head;
    auto read =
        co_await before(connection->timer, Clock::now() + limits_.read_timeout,
                        asio::async_read_until(connection->socket,
                                               asio::dynamic_buffer(head, limits_.max_head_bytes),
                                               "\r\n\r\n", use_tuple));
    if (!read) co_return std::string{};  // too slow (or closed): no answer
    connection->reading_head = false;
    auto [error, size] = *read;
    if (error == asio::error::not_found)
        co_return http_response(431, text_type, "the request head is too long\n");
    if (error) co_return std::string{};  // it went away
    co_return co_await answer_request(connection, std::string_view(head).substr(0, size - 4));
}

asio::awaitable<std::string> MetricsEndpoint::answer_request(std::shared_ptr<Connection> connection,
                                                             std::string_view head) {
    auto request = parse_http_request(head);
    if (!request) co_return http_response(400, text_type, "not an HTTP/1.x request\n");
    bool head_only = request->method == "HEAD";
    if (request->method != "GET" && !head_only)
        co_return http_response(405, text_type, "only GET and HEAD\n", false,
                                "Allow: GET, HEAD\r\n");
    if (request->path != "/metrics")
        co_return http_response(404, text_type, "not found: the metrics are at /metrics\n",
                                head_only);
    auto started = Clock::now();
    auto stats = co_await collect(std::move(connection));
    std::chrono::duration<double> took = Clock::now() - started;
    co_return http_response(200, metrics_type, render(stats ? &*stats : nullptr, took.count()),
                            head_only);
}

asio::awaitable<std::optional<std::vector<ShardStats>>> MetricsEndpoint::collect(
    std::shared_ptr<Connection> connection) {
    // The shards answer on their own threads, maybe after this scrape gave up on them: their
    // report comes back here by a post, and finds the connection only while it still waits.
    connection->awaiting_stats = true;
    node_.collect_stats(
        [weak = std::weak_ptr(connection), &io = io_](std::vector<ShardStats> stats) {
            asio::post(io, [weak, stats = std::move(stats)]() mutable {
                auto waiting = weak.lock();
                if (!waiting || !waiting->awaiting_stats) return;
                waiting->stats = std::move(stats);
                waiting->timer.cancel();
            });
        });
    connection->timer.expires_after(limits_.scrape_timeout);
    co_await connection->timer.async_wait(use_tuple);  // until the stats, the deadline or close
    connection->awaiting_stats = false;
    if (!connection->stats && !closed_)
        node_.log().warn("a metrics scrape gave up on the node's shards after {} ms",
                         limits_.scrape_timeout.count());
    co_return std::move(connection->stats);
}

std::string MetricsEndpoint::render(const std::vector<ShardStats>* stats, double seconds) {
    auto topology = node_.topology();
    const auto& budget = *node_.budget();
    NodeMetricsInput input{node_.info(),
                           *topology,
                           node_.shard_count(),
                           node_.io_threads(),
                           process_resident_bytes(),
                           budget.used(),
                           budget.limit(),
                           stats,
                           seconds};
    return render_node_metrics(input);
}

asio::awaitable<void> MetricsEndpoint::finish(Connection& connection, std::string response) {
    auto written =
        co_await before(connection.timer, Clock::now() + limits_.write_timeout,
                        asio::async_write(connection.socket, asio::buffer(response), use_tuple));
    if (!written || std::get<0>(*written)) co_return;
    // Closing with unread bytes (a body we did not ask for) would reset the connection, and the
    // client could lose the answer: it is told we are done, and read until it closes too.
    std::error_code ignored;
    connection.socket.shutdown(asio::socket_base::shutdown_send, ignored);
    std::array<char, 4096> sink;
    auto until = Clock::now() + linger;
    for (std::size_t drained = 0; drained < linger_bytes;) {
        auto read =
            co_await before(connection.timer, until,
                            connection.socket.async_read_some(asio::buffer(sink), use_tuple));
        if (!read || std::get<0>(*read)) break;
        drained += std::get<1>(*read);
    }
}

}  // namespace dinx::cluster
