#include "node/dialer.hpp"

#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include "node/socket.hpp"

#include <algorithm>

namespace dinx::node {
namespace {

using namespace asio::experimental::awaitable_operators;
constexpr auto use_tuple = asio::experimental::as_tuple(asio::use_awaitable);

asio::awaitable<std::error_code> connect_endpoints(Socket& socket, std::string host,
                                                   std::uint16_t port) {
    std::error_code error;
    auto address = asio::ip::make_address(host, error);
    if (!error) {
        auto [connect_error] =
            co_await socket.async_connect(asio::ip::tcp::endpoint{address, port}, use_tuple);
        co_return connect_error;
    }
    asio::ip::tcp::resolver resolver(socket.get_executor());
    auto [resolve_error, results] =
        co_await resolver.async_resolve(host, std::to_string(port), use_tuple);
    if (resolve_error) co_return resolve_error;
    for (const auto& entry : results) {
        if (socket.is_open()) socket.close(error);
        auto [connect_error] = co_await socket.async_connect(entry.endpoint(), use_tuple);
        if (!connect_error) co_return std::error_code{};
        error = connect_error;
    }
    co_return error ? error : asio::error::host_not_found;
}

}  // namespace

asio::awaitable<std::error_code> dial(Socket& socket, std::string host, std::uint16_t port,
                                      std::chrono::milliseconds timeout) {
    asio::steady_timer deadline(socket.get_executor(), timeout);
    auto outcome = co_await (connect_endpoints(socket, std::move(host), port) ||
                             deadline.async_wait(use_tuple));
    if (outcome.index() == 1) {
        std::error_code ignored;
        socket.close(ignored);
        co_return asio::error::timed_out;
    }
    co_return std::get<0>(outcome);
}

std::chrono::milliseconds Backoff::next_delay() {
    // Shift with a cap so that many failures cannot overflow.
    std::chrono::milliseconds delay = min_ * (std::int64_t{1} << std::min(failures_, 20));
    ++failures_;
    return std::min(delay, max_);
}

}  // namespace dinx::node
