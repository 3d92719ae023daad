#include "demo/client.hpp"

#include "demo/client_connection.hpp"
#include "demo/conversation.hpp"
#include "demo/handlers.hpp"
#include "demo/services.hpp"
#include "node/blocking_client.hpp"

#include <CLI/CLI.hpp>

#include <atomic>
#include <functional>
#include <iostream>
#include <mutex>
#include <optional>
#include <regex>
#include <string>
#include <thread>

namespace dinx::demo {
namespace {

using node::BlockingClient;
using node::Frame;
using std::chrono::milliseconds;

struct ClientOptions {
    ConnectionOptions connection;  // --host, --port, and what the connection is wrapped in
    bool script = false;
    std::string name = "alice";
    int timeout_ms = 5000;
    int linger_ms = 1000;
    std::uint32_t error_msg_id = 0xFFFF'FFFF;
    std::uint32_t kick_msg_id = 0xFFFF'FFFE;
    std::optional<std::uint16_t> port2;  // set: --script runs the two-gate conversation
    std::optional<std::string> host2;    // unset: gate 2 is on --host
    std::string name2 = "bob";
    bool services = false;  // --script also signs in, scores and reads the leaderboard
};

std::mutex print_mutex;

void print_frame(const Frame& frame, const ClientOptions& options) {
    std::lock_guard lock(print_mutex);
    if (frame.msg_id == options.error_msg_id)
        std::cout << "<- error " << frame.payload << std::endl;
    else
        std::cout << "<- " << frame.msg_id << " " << frame.payload << std::endl;
}

void print_sent(std::uint32_t msg_id, const std::string& payload) {
    std::lock_guard lock(print_mutex);
    std::cout << "-> " << msg_id << " " << payload << std::endl;
}

// One step of the scripted conversation: what to send and what reply proves it worked.
struct Step {
    std::string label;
    std::uint32_t msg_id;
    std::string payload;
    std::regex expected;  // matched against the whole payload of a frame with msg_id
};

std::vector<Step> script_steps(const std::string& name, bool services) {
    std::vector<Step> steps{
        {"login", login, name, std::regex("welcome " + name)},
        {"send", send, "hello", std::regex(R"(\S+: hello)")},
        {"broadcast", broadcast, "hi all", std::regex(name + ": hi all")},
        {"relay", relay, "ping", std::regex(R"(\S+ via \S+: ping)")},
    };
    if (services) {  // the gate calls account and rank services, then every rank node
        steps.push_back(
            {"sign in", sign_in, name,
             std::regex("welcome " + name + R"(: level \d+, visit \d+, rank \d+ of \d+)")});
        steps.push_back({"score", score, "30",
                         std::regex(name + R"( \+30: score \d+, rank \d+ of \d+ on \S+)")});
        steps.push_back(
            {"leaderboard", leaderboard, "", std::regex("top: (.*, )?" + name + R"( \d+.*)")});
        steps.push_back({"standing", standing, "",
                         std::regex(name + R"(: score \d+, rank \d+ of \d+ on \S+ \(protobuf\))"
                                           "|standing needs a dinx-demo built with protobuf")});
    }
    steps.push_back({"logout", logout, "", std::regex("bye " + name)});
    return steps;
}

// Waits for the frame a step expects; prints everything that arrives meanwhile (other
// players' broadcasts may interleave). An error frame about the step ends the wait.
bool await_reply(BlockingClient& client, const Step& step, const ClientOptions& options) {
    auto deadline = std::chrono::steady_clock::now() + milliseconds(options.timeout_ms);
    while (std::chrono::steady_clock::now() < deadline) {
        auto left =
            std::chrono::duration_cast<milliseconds>(deadline - std::chrono::steady_clock::now());
        auto frame = client.receive(left);
        if (!frame) break;
        print_frame(*frame, options);
        if (frame->msg_id == step.msg_id && std::regex_match(frame->payload, step.expected))
            return true;
        if (frame->msg_id == options.error_msg_id) return false;
    }
    std::cout << "FAILED: no " << step.label << " reply"
              << (client.closed() ? " (the gate closed the connection)"
                                  : " within " + std::to_string(options.timeout_ms) + " ms")
              << std::endl;
    return false;
}

int run_script(BlockingClient& client, const ClientOptions& options) {
    int passed = 0;
    auto steps = script_steps(options.name, options.services);
    for (const auto& step : steps) {
        print_sent(step.msg_id, step.payload);
        client.send(step.msg_id, step.payload);
        if (!await_reply(client, step, options)) break;
        ++passed;
    }
    std::cout << passed << "/" << steps.size() << " replies as expected" << std::endl;
    return passed == static_cast<int>(steps.size()) ? 0 : 1;
}

// "3 hello world" -> msgID 3, payload "hello world"; "2" -> msgID 2, empty payload.
std::optional<Frame> parse_line(const std::string& line) {
    std::size_t end = 0;
    unsigned long id = 0;
    try {
        id = std::stoul(line, &end);
    } catch (const std::exception&) {
        return std::nullopt;
    }
    if (id > 0xFFFF'FFFFul) return std::nullopt;
    if (end < line.size() && line[end] != ' ') return std::nullopt;
    return Frame{static_cast<std::uint32_t>(id), end < line.size() ? line.substr(end + 1) : ""};
}

// Prints frames until the input ended and the gate has been quiet for linger_ms, so that
// piped input still shows its replies.
void print_incoming(BlockingClient& client, const std::atomic<bool>& input_ended,
                    const ClientOptions& options) {
    auto quiet_since = std::chrono::steady_clock::now();
    while (true) {
        if (auto frame = client.receive(milliseconds(50))) {
            print_frame(*frame, options);
            quiet_since = std::chrono::steady_clock::now();
        } else if (input_ended) {
            if (std::chrono::steady_clock::now() - quiet_since >= milliseconds(options.linger_ms))
                return;
        } else {
            quiet_since = std::chrono::steady_clock::now();
        }
        if (client.closed()) {
            std::cout << "the gate closed the connection" << std::endl;
            return;
        }
    }
}

int run_interactive(BlockingClient& client, const ClientOptions& options) {
    std::atomic<bool> done = false;
    std::thread reader([&] { print_incoming(client, done, options); });
    std::cerr << "type `<msgID> <payload>` per line, e.g. `3 hello`; Ctrl-D to quit" << std::endl;
    std::string line;
    while (!client.closed() && std::getline(std::cin, line)) {
        if (line.empty()) continue;
        auto frame = parse_line(line);
        if (!frame) {
            std::cerr << "expected `<msgID> <payload>`, got: " << line << std::endl;
            continue;
        }
        client.send(frame->msg_id, frame->payload);
    }
    done = true;
    reader.join();
    return 0;
}

ConversationOptions conversation_options(const ClientOptions& options) {
    return {.host = options.connection.host,
            .port = options.connection.port,
            .host2 = options.host2.value_or(options.connection.host),
            .port2 = *options.port2,
            .name = options.name,
            .name2 = options.name2,
            .timeout_ms = options.timeout_ms,
            .error_msg_id = options.error_msg_id,
            .kick_msg_id = options.kick_msg_id};
}

// The second player's uid goes first in a whisper (`<uid> <text>`), so neither may hold a
// space, and a conversation with oneself would replace itself at login.
bool valid_names(const ClientOptions& options) {
    auto usable = [](const std::string& name) {
        return !name.empty() && name.find(' ') == std::string::npos;
    };
    if (usable(options.name) && usable(options.name2) && options.name != options.name2) return true;
    std::cerr << "dinx-demo client: --name and --name2 must differ and hold no space" << std::endl;
    return false;
}

int run_connected(const ClientOptions& options) {
    auto client = connect_to_gate(options.connection, milliseconds(options.timeout_ms));
    return options.script ? run_script(*client, options) : run_interactive(*client, options);
}

void add_conversation_options(CLI::App& cli, ClientOptions& options, CLI::Option* script) {
    cli.add_option("--port2", options.port2,
                   "with --script: a second gate's client port; run the two-gate conversation")
        ->needs(script);
    cli.add_option("--host2", options.host2, "the second gate's address (default: --host)")
        ->needs("--port2");
    cli.add_option("--name2", options.name2, "the player on the second gate")
        ->capture_default_str()
        ->needs("--port2");
    cli.add_option("--kick-msg-id", options.kick_msg_id, "msgID of the gate's kick frames")
        ->capture_default_str();
}

}  // namespace

int run_client(int argc, char** argv) {
    ClientOptions options;
    CLI::App cli{"dinx-demo client: talks to a gate like a zinx client", "dinx-demo client"};
    add_connection_options(cli, options.connection);
    auto* script = cli.add_flag(
        "--script", options.script,
        "run login, send, broadcast, relay, logout (with --port2: the two-gate conversation); "
        "exit 0 only if every reply arrived");
    cli.add_option("--name", options.name, "login name used by --script")->capture_default_str();
    cli.add_flag("--services", options.services,
                 "with --script: also sign in (14), score (15) and read the leaderboard (16), "
                 "which call the account and rank services")
        ->needs(script);
    cli.add_option("--timeout-ms", options.timeout_ms, "wait per reply (per step) in --script")
        ->capture_default_str();
    cli.add_option("--linger-ms", options.linger_ms,
                   "after the input ends, wait until the gate is quiet this long")
        ->capture_default_str();
    cli.add_option("--error-msg-id", options.error_msg_id, "msgID of the gate's error frames")
        ->capture_default_str();
    add_conversation_options(cli, options, script);
    CLI11_PARSE(cli, argc, argv);
    if (options.port2) {
        if (!valid_names(options)) return 2;
        if (options.connection.changed()) {
            std::cerr << "dinx-demo client: the two-gate conversation (--port2) speaks plain TCP "
                         "with TLV frames; --ws, --tls and --framing are for one gate"
                      << std::endl;
            return 2;
        }
        return run_conversation(conversation_options(options));
    }
    try {
        return run_connected(options);
    } catch (const std::exception& error) {  // a refused connection or handshake, a bad --ca
        std::cerr << "dinx-demo client: " << error.what() << std::endl;
        return 1;
    }
}

}  // namespace dinx::demo
