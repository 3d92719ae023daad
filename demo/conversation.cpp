#include "demo/conversation.hpp"

#include "demo/handlers.hpp"
#include "node/blocking_client.hpp"

#include <algorithm>
#include <chrono>
#include <functional>
#include <iostream>
#include <memory>
#include <optional>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace dinx::demo {
namespace {

using node::BlockingClient;
using node::Frame;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

const std::string room = "lobby";

// The uid directory is eventually consistent: a node learns of a login or a room change on the
// other gate one link hop later. Asking again at once would flood the transcript; this pause
// between two asks is far below the timeout and far above a loopback hop.
constexpr milliseconds ask_again_pause{20};

// A whisper the sender's node accepted may still go to a session that just closed (the node
// had not yet heard of the newer login) and be dropped there; one that reaches the right
// session arrives within milliseconds, so after this long without it the whisper is sent again.
constexpr milliseconds delivery_window{250};

// Why a step failed, for its FAILED line.
struct StepFailed : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// One connection of the conversation.
struct Player {
    std::string label;  // how the transcript names it: its uid, or uid#2 for a second login
    std::string uid;
    std::string host;
    std::uint16_t port = 0;
    std::unique_ptr<BlockingClient> client;  // null until its step connects it
};

// Which frames an await is for.
using Wanted = std::function<bool(const Frame&)>;

Wanted frame_is(std::uint32_t msg_id, std::string payload) {
    return [msg_id, payload = std::move(payload)](const Frame& frame) {
        return frame.msg_id == msg_id && frame.payload == payload;
    };
}

bool has_code(const Frame& frame, const std::string& code) {
    return std::regex_search(frame.payload, std::regex("\"code\":\\s*\"" + code + "\""));
}

// True when the space-separated words of `text` include `word`.
bool has_word(const std::string& text, const std::string& word) {
    std::istringstream words(text);
    std::string each;
    while (words >> each)
        if (each == word) return true;
    return false;
}

// The conversation: its three connections, its steps in order, and the running step's deadline.
class Conversation {
public:
    explicit Conversation(const ConversationOptions& options) : options_(options) {
        a_ = {options.name, options.name, options.host, options.port, nullptr};
        b_ = {options.name2, options.name2, options.host2, options.port2, nullptr};
        c_ = {options.name2 + "#2", options.name2, options.host, options.port, nullptr};
    }

    int run() {
        auto steps = script();
        std::size_t passed = 0;
        for (const auto& [label, step] : steps) {
            if (!run_step(label, step)) break;
            ++passed;
        }
        std::cout << passed << "/" << steps.size() << " steps as expected" << std::endl;
        return passed == steps.size() ? 0 : 1;
    }

private:
    using Step = std::pair<std::string, std::function<void()>>;

    std::vector<Step> script() {
        auto on = [](const Player& player) {
            return player.host + ":" + std::to_string(player.port);
        };
        return {
            {a_.uid + " logs in on gate 1 (" + on(a_) + ")", [this] { log_in(a_); }},
            {b_.uid + " logs in on gate 2 (" + on(b_) + ")", [this] { log_in(b_); }},
            {a_.uid + " joins " + room, [this] { join_room(a_); }},
            {b_.uid + " joins " + room, [this] { join_room(b_); }},
            {a_.uid + " sees both in " + room, [this] { await_both_in_room(a_); }},
            {b_.uid + " sees both in " + room, [this] { await_both_in_room(b_); }},
            {a_.uid + " whispers " + b_.uid, [this] { whisper(a_, b_, "hi " + b_.uid); }},
            {b_.uid + " whispers " + a_.uid, [this] { whisper(b_, a_, "hi " + a_.uid); }},
            {a_.uid + " says to " + room, [this] { say_to_room(a_, b_, "hello " + room); }},
            {c_.label + " logs in as " + c_.uid + " on gate 1", [this] { log_in(c_); }},
            {b_.uid + " on gate 2 is replaced", [this] { await_replaced(b_); }},
            {a_.uid + " whispers " + c_.label, [this] { whisper(a_, c_, "welcome back"); }},
        };
    }

    // Runs one step with its own deadline. A failure (StepFailed, a refused connect, a send after
    // the gate closed the connection) is printed with the step's label.
    bool run_step(const std::string& label, const std::function<void()>& step) {
        deadline_ = Clock::now() + milliseconds(options_.timeout_ms);
        echo_ = true;
        try {
            step();
            return true;
        } catch (const std::exception& failure) {
            std::cout << "FAILED: " << label << ": " << failure.what() << std::endl;
        }
        return false;
    }

    // ---- the steps ---------------------------------------------------------------------------

    void log_in(Player& player) {
        player.client = std::make_unique<BlockingClient>(player.host, player.port,
                                                         milliseconds(options_.timeout_ms));
        send(player, login, player.uid);
        expect(player, frame_is(login, "welcome " + player.uid), "welcome");
    }

    void join_room(Player& player) {
        send(player, join, room);
        auto joined = [](const Frame& frame) {
            return frame.msg_id == join && frame.payload.starts_with("joined " + room + ":");
        };
        expect(player, joined, "joined reply");
    }

    // Asks for the room's members until the player's node has heard of both players. Asks
    // after the first are counted, not printed: a node may take a few of them to catch up.
    void await_both_in_room(Player& player) {
        auto is_members = [](const Frame& frame) {
            return frame.msg_id == members && frame.payload.starts_with(room + ":");
        };
        for (int asks = 1;; ++asks) {
            echo_ = asks == 1;
            send(player, members, room);
            auto reply = expect(player, is_members, "members reply");
            echo_ = true;
            if (has_word(reply.payload, a_.uid) && has_word(reply.payload, b_.uid)) {
                if (asks > 1) print_again(player, asks, reply);
                return;
            }
            if (!pause_before_asking_again())
                throw StepFailed("`" + std::to_string(members) + " " + room +
                                 "` never listed both within " + timeout_text() +
                                 "; the last reply: " + reply.payload);
        }
    }

    // Whispers until `to` hears it: an `offline` error (the sender's node has not heard of the
    // login yet) or a whisper dropped at a session that just closed is retried.
    void whisper(Player& from, Player& to, const std::string& text) {
        auto accepted = frame_is(whisper_id, "to " + to.uid + ": " + text);
        auto offline = [this](const Frame& frame) {
            return frame.msg_id == options_.error_msg_id && has_code(frame, "offline");
        };
        auto heard = frame_is(whisper_id, from.uid + ": " + text);
        while (true) {
            send(from, whisper_id, to.uid + " " + text);
            auto reply = expect(
                from, [&](const Frame& f) { return accepted(f) || offline(f); }, "whisper reply");
            if (!offline(reply) &&
                await(to, heard, std::min(deadline_, Clock::now() + delivery_window)))
                return;
            if (!pause_before_asking_again())
                throw StepFailed(to.label + " heard no whisper within " + timeout_text());
        }
    }

    void say_to_room(Player& speaker, Player& listener, const std::string& text) {
        auto line = room + " " + speaker.uid + ": " + text;
        send(speaker, say, room + " " + text);
        expect(speaker, frame_is(say, line), "say reply");
        expect(listener, frame_is(say, line), "say from " + speaker.uid);
    }

    // The older session of a uid gets one `replaced` kick frame, then the gate closes it.
    void await_replaced(Player& player) {
        auto kick = [this](const Frame& frame) { return frame.msg_id == options_.kick_msg_id; };
        auto frame = expect(player, kick, "kick frame");
        if (!has_code(frame, "replaced")) throw StepFailed("the kick frame is not `replaced`");
        if (auto after = player.client->receive(left())) {
            print(player, "<-", *after);
            throw StepFailed("a frame after the kick frame");
        }
        if (!player.client->closed())
            throw StepFailed("the connection stayed open after the kick frame");
        std::cout << player.label << " <- EOF (the gate closed the connection)" << std::endl;
    }

    // ---- sending and awaiting ----------------------------------------------------------------

    // The demo's whisper msgID (whisper() is taken by the step).
    static constexpr std::uint32_t whisper_id = MsgId::whisper;

    void send(Player& player, std::uint32_t msg_id, const std::string& payload) {
        if (echo_) std::cout << player.label << " -> " << msg_id << " " << payload << std::endl;
        player.client->send(msg_id, payload);
    }

    // Prints what arrives until a wanted frame; an unwanted error frame fails the step. Nullopt
    // when `until` passed or the gate closed the connection first.
    std::optional<Frame> await(Player& player, const Wanted& wanted, Clock::time_point until) {
        while (Clock::now() < until) {
            auto frame = player.client->receive(
                std::chrono::duration_cast<milliseconds>(until - Clock::now()));
            if (!frame) break;
            print(player, "<-", *frame);
            if (wanted(*frame)) return frame;
            if (frame->msg_id == options_.error_msg_id)
                throw StepFailed("an error frame: " + frame->payload);
        }
        return std::nullopt;
    }

    // await() until the step's deadline; not getting the frame fails the step.
    Frame expect(Player& player, const Wanted& wanted, const std::string& what) {
        if (auto frame = await(player, wanted, deadline_)) return *frame;
        throw StepFailed(player.label + " got no " + what +
                         (player.client->closed() ? " (the gate closed the connection)"
                                                  : " within " + timeout_text()));
    }

    // False when the step's deadline leaves no time for another ask.
    bool pause_before_asking_again() const {
        if (Clock::now() + ask_again_pause >= deadline_) return false;
        std::this_thread::sleep_for(ask_again_pause);
        return true;
    }

    milliseconds left() const {
        return std::max(milliseconds(0),
                        std::chrono::duration_cast<milliseconds>(deadline_ - Clock::now()));
    }

    std::string timeout_text() const { return std::to_string(options_.timeout_ms) + " ms"; }

    void print(const Player& player, const char* arrow, const Frame& frame) const {
        if (!echo_) return;
        std::cout << player.label << " " << arrow << " ";
        if (frame.msg_id == options_.error_msg_id)
            std::cout << "error ";
        else if (frame.msg_id == options_.kick_msg_id)
            std::cout << "kick ";
        else
            std::cout << frame.msg_id << " ";
        std::cout << frame.payload << std::endl;
    }

    // After repeated asks (only the first was printed): how many there were, and the answer.
    void print_again(const Player& player, int asks, const Frame& reply) const {
        std::cout << player.label << " .. asked " << asks << " times until" << std::endl;
        print(player, "<-", reply);
    }

    const ConversationOptions& options_;
    Player a_;  // on gate 1
    Player b_;  // on gate 2, replaced by c_
    Player c_;  // b_'s uid again, on gate 1
    Clock::time_point deadline_;
    bool echo_ = true;  // false while repeated asks run: only their outcome is printed
};

}  // namespace

int run_conversation(const ConversationOptions& options) {
    return Conversation(options).run();
}

}  // namespace dinx::demo
