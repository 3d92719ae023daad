#include "node/acceptor.hpp"

#include "node/spawn.hpp"

#include <spdlog/spdlog.h>
#include <asio/post.hpp>
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

namespace dinx::node {

struct Acceptor::State {
    IoPool& pool;
    asio::ip::tcp::acceptor acceptor;
    OnAccept on_accept;
    std::optional<std::size_t> only_index;  // every connection goes to this context

    /// The context the next connection goes to.
    std::size_t next_index() { return only_index ? *only_index : pool.next_index(); }

    asio::awaitable<void> accept_loop(std::shared_ptr<State> self);
    /// Accepts, without waiting, every connection the kernel has completed.
    void accept_backlog(const std::shared_ptr<State>& self);
    /// Runs on_accept for `socket` on the thread of context `index`.
    void hand_over(const std::shared_ptr<State>& self, std::size_t index, Socket socket);
};

namespace {

// An address is used as it is; a name (e.g. "localhost") is resolved once, at start-up.
asio::ip::tcp::endpoint resolve_listen(asio::io_context& io, const std::string& host,
                                       std::uint16_t port) {
    std::error_code ec;
    auto address = asio::ip::make_address(host, ec);
    if (!ec) return {address, port};
    asio::ip::tcp::resolver resolver(io);
    auto results = resolver.resolve(host, std::to_string(port), ec);
    if (ec || results.empty())
        throw std::system_error(ec ? ec : asio::error::host_not_found, "resolve " + host);
    return results.begin()->endpoint();
}

// Errors such as EMFILE would spin the loop; wait a little before accepting again.
constexpr auto accept_error_pause = std::chrono::milliseconds(100);

}  // namespace

Acceptor::Acceptor(IoPool& pool, std::size_t home_index, const std::string& host,
                   std::uint16_t port, OnAccept on_accept, std::optional<std::size_t> only_index)
    : state_(std::make_shared<State>(State{pool, asio::ip::tcp::acceptor(pool.context(home_index)),
                                           std::move(on_accept), only_index})) {
    auto endpoint = resolve_listen(pool.context(home_index), host, port);
    auto& acceptor = state_->acceptor;
    acceptor.open(endpoint.protocol());
    // Lets a restarted node bind its port while old connections sit in TIME_WAIT.
    acceptor.set_option(asio::ip::tcp::acceptor::reuse_address(true));
    acceptor.bind(endpoint);
    acceptor.listen(asio::socket_base::max_listen_connections);
    port_ = acceptor.local_endpoint().port();
}

Acceptor::~Acceptor() {
    close();
}

void Acceptor::start() {
    spawn_detached(state_->acceptor.get_executor(), state_->accept_loop(state_),
                   "acceptor on port " + std::to_string(port_));
}

void Acceptor::close() {
    asio::post(state_->acceptor.get_executor(), [state = state_] {
        std::error_code ignored;
        state->acceptor.close(ignored);
    });
}

void Acceptor::close_after_backlog(std::function<void()> then) {
    asio::post(state_->acceptor.get_executor(), [state = state_, then = std::move(then)] {
        // A client whose connect completed has sent requests it expects answers to; closing the
        // listener would reset it instead.
        state->accept_backlog(state);
        std::error_code ignored;
        state->acceptor.close(ignored);
        then();
    });
}

void Acceptor::State::accept_backlog(const std::shared_ptr<State>& self) {
    if (!acceptor.is_open()) return;
    std::error_code error;
    acceptor.non_blocking(true, error);
    while (!error) {
        std::size_t index = next_index();
        auto socket = acceptor.accept(pool.context(index), error);
        if (!error) hand_over(self, index, std::move(socket));
    }
}

void Acceptor::State::hand_over(const std::shared_ptr<State>& self, std::size_t index,
                                Socket socket) {
    asio::post(socket.get_executor(), [self, index, socket = std::move(socket)]() mutable {
        self->on_accept(index, std::move(socket));
    });
}

asio::awaitable<void> Acceptor::State::accept_loop(std::shared_ptr<State> self) {
    auto port = acceptor.local_endpoint().port();
    int failures = 0;  // since the last log line
    auto logged_at = std::chrono::steady_clock::time_point{};
    while (acceptor.is_open()) {
        std::size_t index = next_index();
        std::error_code error;
        auto socket = co_await acceptor.async_accept(
            pool.context(index), asio::redirect_error(asio::use_awaitable, error));
        if (error == asio::error::operation_aborted || !acceptor.is_open()) break;
        if (error) {
            // EMFILE and friends leave the connection in the backlog, so accepting again at
            // once would spin: pause, and log once a second at most.
            ++failures;
            auto now = std::chrono::steady_clock::now();
            if (now - logged_at >= std::chrono::seconds(1)) {
                spdlog::warn("accept on port {} failed {} time(s): {}; retrying every {} ms", port,
                             failures, error.message(), accept_error_pause.count());
                logged_at = now;
                failures = 0;
            }
            asio::steady_timer pause(acceptor.get_executor(), accept_error_pause);
            co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, error));
            continue;
        }
        hand_over(self, index, std::move(socket));
    }
}

}  // namespace dinx::node
