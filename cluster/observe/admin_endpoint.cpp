#include "cluster/observe/admin_endpoint.hpp"

#include "cluster/observe/admin_answers.hpp"
#include "cluster/observe/admin_protocol.hpp"
#include "node/frame_codec.hpp"
#include "node/socket.hpp"
#include "node/spawn.hpp"

#include <nlohmann/json.hpp>

#include <asio/experimental/as_tuple.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include <array>
#include <deque>
#include <vector>

namespace dinx::cluster {
namespace {

using namespace std::chrono_literals;
constexpr auto use_tuple = asio::experimental::as_tuple(asio::use_awaitable);

// A caller has this long to prove itself, then this long between commands; a command (a
// reload reads two files and checks them) gets this long to be answered.
constexpr auto auth_timeout = 5s;
constexpr auto idle_timeout = 60s;
constexpr auto command_timeout = 30s;

struct Received {
    std::uint32_t msg_id;
    std::string payload;
};

std::string error_answer(const std::string& error) {
    return simple_answer(false, error);
}

}  // namespace

namespace {
class AdminConnection;
}  // namespace

struct AdminEndpoint::State {
    std::uint32_t node_id;
    std::string node_name;
    std::string secret;
    AdminService* service;  // null once closed
    spdlog::logger& log;
    asio::io_context& io;
    std::size_t open = 0;                      // connections now
    std::vector<std::weak_ptr<AdminConnection>> connections{};  // to end them on close
};

namespace {

/// One caller's connection. Runs on the endpoint's io thread.
class AdminConnection : public std::enable_shared_from_this<AdminConnection> {
public:
    AdminConnection(node::Socket socket, std::shared_ptr<AdminEndpoint::State> state)
        : socket_(std::make_shared<node::Socket>(std::move(socket))),
          deadline_(socket_->get_executor()),
          state_(std::move(state)),
          peer_(node::describe(node::peer_endpoint(*socket_))) {}

    asio::awaitable<void> run() {
        state_->connections.push_back(weak_from_this());
        // (g++ 12 miscompiles a co_await inside an if or while condition: kept out of them.)
        bool going = co_await authenticate();
        while (going) going = co_await serve_one();
        close();
    }

private:
    /// The socket closes at `timeout` from now unless armed again.
    void arm(std::chrono::steady_clock::duration timeout) {
        deadline_.expires_after(timeout);
        deadline_.async_wait([socket = std::weak_ptr(socket_)](std::error_code error) {
            if (auto held = socket.lock(); held && !error) held->close(error);
        });
    }

    void close() {
        std::error_code ignored;
        socket_->close(ignored);
        deadline_.cancel();
    }

public:
    /// The endpoint closes: a caller waiting for its next command is let go at once; one whose
    /// command runs gets its answer first (a `drain` of this very node must be answered).
    void end_unless_busy() {
        if (!busy_) close();
    }

private:

    asio::awaitable<bool> send(std::uint32_t msg_id, std::string_view payload) {
        ByteBuffer frame;
        node::append_frame(frame, msg_id, as_bytes(payload));
        auto [error, written] = co_await asio::async_write(*socket_, asio::buffer(frame), use_tuple);
        co_return !error;
    }

    asio::awaitable<std::optional<Received>> receive() {
        while (frames_.empty()) {
            auto [error, n] = co_await socket_->async_read_some(asio::buffer(buffer_), use_tuple);
            if (error) co_return std::nullopt;
            auto status = reader_.feed(Bytes{buffer_.data(), n}, [&](std::uint32_t id, Bytes p) {
                frames_.push_back({id, std::string(as_text(p))});
                return true;
            });
            if (status != node::FeedStatus::ok) co_return std::nullopt;  // oversized, malformed
        }
        auto frame = std::move(frames_.front());
        frames_.pop_front();
        co_return frame;
    }

    /// Says why the caller is refused; the connection ends after it.
    asio::awaitable<void> refuse(const std::string& why) {
        state_->log.info("admin: refused {}: {}", peer_, why);
        co_await send(admin::refused, why);
    }

    /// Why the caller's proof (the payload of its proof frame) is not good enough, or "".
    std::string check_proof(const std::string& proof, const AuthBytes& nonce) const {
        if (state_->secret.empty())
            return node::peer_endpoint(*socket_).address().is_loopback()
                       ? ""
                       : "no cluster secret: only callers on this machine";
        auto bytes = as_bytes(proof);
        if (bytes.size() != 2 * auth_size) return "no proof of the cluster secret";
        auto expected =
            admin::admin_proof(state_->secret, state_->node_id, nonce, auth_bytes_at(bytes, 0));
        return proof_matches(bytes.subspan(auth_size), expected)
                   ? ""
                   : "wrong proof of the cluster secret";
    }

    asio::awaitable<bool> authenticate() {
        arm(auth_timeout);
        auto nonce = random_nonce();
        std::string challenge(1, char(state_->secret.empty() ? 0 : admin::secret_required));
        challenge.append(as_text(nonce));
        bool challenged = co_await send(admin::challenge, challenge);
        if (!challenged) co_return false;
        auto proof = co_await receive();
        auto problem = !proof || proof->msg_id != admin::proof ? std::string("no proof")
                                                               : check_proof(proof->payload, nonce);
        if (!problem.empty()) {
            co_await refuse(problem);
            co_return false;
        }
        bool welcomed = co_await send(admin::welcome, state_->node_name);
        co_return welcomed;
    }

    asio::awaitable<bool> serve_one() {
        arm(idle_timeout);
        auto frame = co_await receive();
        if (!frame) co_return false;
        if (frame->msg_id != admin::command) {
            co_await refuse("not a command frame");
            co_return false;
        }
        busy_ = true;
        auto json = co_await answer(frame->payload);
        bool sent = co_await send(admin::answer, json);
        busy_ = false;
        co_return sent && state_->service != nullptr;  // the endpoint closed meanwhile: done
    }

    /// Runs one command through the service and waits for its answer (or the deadline).
    asio::awaitable<std::string> answer(const std::string& text) {
        auto request = nlohmann::json::parse(text, nullptr, false);
        if (!request.is_object() || !request.contains("command") ||
            !request["command"].is_string())
            co_return error_answer("a command is a JSON object with a \"command\" string");
        AdminRequest parsed{request["command"].get<std::string>(),
                            request.value("argument", std::string())};
        if (!state_->service) co_return error_answer("the node is stopping");
        struct Pending {
            asio::steady_timer wake;
            std::optional<std::string> json;
        };
        auto pending = std::make_shared<Pending>(Pending{asio::steady_timer(state_->io), {}});
        pending->wake.expires_after(command_timeout);
        arm(command_timeout + 1s);
        state_->service->run_admin(state_->node_id, parsed, [pending, &io = state_->io](
                                                                 std::string json) {
            asio::post(io, [pending, json = std::move(json)]() mutable {
                pending->json = std::move(json);
                pending->wake.cancel();
            });
        });
        co_await pending->wake.async_wait(use_tuple);
        co_return pending->json ? *pending->json
                                : error_answer("the command was not answered in time");
    }

    std::shared_ptr<node::Socket> socket_;
    asio::steady_timer deadline_;
    std::shared_ptr<AdminEndpoint::State> state_;
    std::string peer_;
    node::FrameReader reader_{admin::max_command_bytes};
    std::deque<Received> frames_;
    std::array<std::byte, 4096> buffer_{};
    bool busy_ = false;  // a command is running: its answer is owed
};

}  // namespace

AdminEndpoint::AdminEndpoint(node::IoPool& pool, std::size_t thread, const dict::NodeInfo& node,
                             std::string secret, AdminService& service, spdlog::logger& log)
    : state_(std::make_shared<State>(
          State{node.id, node.name, std::move(secret), &service, log, pool.context(thread)})) {
    auto on_accept = [state = state_](std::size_t, node::Socket socket) {
        if (!state->service || state->open >= max_connections) {
            state->log.info("admin: refused a caller: {}",
                            state->service ? "too many admin connections" : "closing");
            return;  // the socket closes as it goes
        }
        ++state->open;
        std::erase_if(state->connections, [](const auto& weak) { return weak.expired(); });
        auto connection = std::make_shared<AdminConnection>(std::move(socket), state);
        auto run = [](std::shared_ptr<AdminConnection> held,
                      std::shared_ptr<State> state) -> asio::awaitable<void> {
            co_await held->run();
            --state->open;
        };
        node::spawn_detached(state->io.get_executor(), run(connection, state), "admin connection");
    };
    acceptor_.emplace(pool, thread, node.admin_host, *node.admin_port, std::move(on_accept), thread);
}

AdminEndpoint::~AdminEndpoint() {
    close();
}

void AdminEndpoint::close() {
    acceptor_->close();
    // The connections live on the endpoint's thread: they are ended there.
    asio::post(state_->io, [state = state_] {
        state->service = nullptr;
        for (auto& weak : state->connections)
            if (auto connection = weak.lock()) connection->end_unless_busy();
    });
}

}  // namespace dinx::cluster
