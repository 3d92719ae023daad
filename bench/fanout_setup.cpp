// Setting members up before a fan-out run: login, join, session values, each reply awaited.

#include "bench/fanout_runner.hpp"

#include <chrono>
#include <deque>
#include <stdexcept>
#include <string>
#include <vector>

namespace dinx::bench {
namespace {

using Clock = std::chrono::steady_clock;

/// One request of a member's script and the reply it must get.
struct Step {
    std::uint32_t msg_id;
    std::string payload;
    std::string reply;  ///< the reply's payload, or its start when `prefix`
    bool prefix = false;
};

// "m" + std::to_string(n) trips a false -Wrestrict in GCC 12's <string>; appending does not.
std::string numbered(char letter, std::uint32_t n) {
    return std::string(1, letter).append(std::to_string(n));
}

std::vector<Step> script_of(std::uint32_t member, const FanoutOptions& options, bool join) {
    std::string name = numbered('m', member);
    std::vector<Step> steps{{login_msg, name, "welcome " + name}};
    if (join) steps.push_back({join_msg, options.room, "joined " + options.room + ": ", true});
    for (std::uint32_t j = 0; j < options.values; ++j) {
        std::string key = numbered('k', j);
        std::string value(options.value_size, static_cast<char>('a' + j % 26));
        steps.push_back({set_msg, key + " " + value, key + "=" + value});
    }
    return steps;
}

/// Runs every member's script. The queue of members ready for their next step is first in,
/// first out, so every member logs in before any joins: none waits long for its first frame.
class SetupRun : public FrameSink {
public:
    SetupRun(Members& members, const FanoutOptions& options, bool join)
        : members_(members),
          options_(options),
          next_step_(members.size(), 0),
          awaiting_(members.size(), false) {
        scripts_.reserve(members.size());
        for (std::uint32_t i = 0; i < members.size(); ++i) {
            scripts_.push_back(script_of(i, options, join));
            ready_.push_back(i);
        }
    }

    void run() {
        auto deadline = Clock::now() + std::chrono::seconds(120);
        while (finished_ < members_.size()) {
            send_ready();
            members_.poll(*this, 5);
            if (Clock::now() > deadline)
                throw std::runtime_error("setting members up took over 120 s (" +
                                         std::to_string(finished_) + "/" +
                                         std::to_string(members_.size()) + " done)");
        }
    }

    void on_frame(std::uint32_t member, std::uint32_t msg_id, Bytes data) override {
        std::string_view text = as_text(data);
        if (msg_id == options_.error_msg_id)
            throw std::runtime_error("m" + std::to_string(member) +
                                     " got an error frame: " + std::string(text));
        if (!awaiting_[member]) return;  // a push (a room event), not a reply
        const Step& step = scripts_[member][next_step_[member]];
        if (msg_id != step.msg_id) return;
        if (step.prefix && !text.starts_with(step.reply)) return;  // a room event of that msgID
        if (!step.prefix && text != step.reply)
            throw std::runtime_error("m" + std::to_string(member) + " sent " +
                                     std::to_string(step.msg_id) + " " + step.payload +
                                     ", got: " + std::string(text));
        awaiting_[member] = false;
        --in_flight_;
        if (++next_step_[member] == scripts_[member].size())
            ++finished_;
        else
            ready_.push_back(member);
    }

    void on_closed(std::uint32_t member) override {
        throw std::runtime_error("the server closed m" + std::to_string(member) +
                                 " while setting it up");
    }

private:
    void send_ready() {
        while (in_flight_ < options_.setup_window && !ready_.empty()) {
            std::uint32_t member = ready_.front();
            ready_.pop_front();
            const Step& step = scripts_[member][next_step_[member]];
            members_.send(member, step.msg_id, as_bytes(step.payload));
            awaiting_[member] = true;
            ++in_flight_;
        }
        members_.flush();
    }

    Members& members_;
    const FanoutOptions& options_;
    std::vector<std::vector<Step>> scripts_;
    std::vector<std::size_t> next_step_;
    std::vector<bool> awaiting_;  // has sent its step and waits for the reply
    std::deque<std::uint32_t> ready_;
    std::uint32_t in_flight_ = 0;
    std::uint32_t finished_ = 0;
};

}  // namespace

void set_up_members(Members& members, const FanoutOptions& options, bool join) {
    SetupRun(members, options, join).run();
}

}  // namespace dinx::bench
