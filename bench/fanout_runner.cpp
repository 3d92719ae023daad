#include "bench/fanout_runner.hpp"

#include <pthread.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <deque>
#include <stdexcept>
#include <string>
#include <vector>

namespace dinx::bench {
namespace {

using Clock = std::chrono::steady_clock;

Clock::duration to_duration(double seconds) {
    return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
}

/// What a say's text carries: who said it, its number among that sender's says, and whether
/// it was said during the warm-up ('w') or after it ('m').
struct SayId {
    std::uint32_t sender = 0;
    std::uint64_t seq = 0;
    char phase = 0;
};

// Reads "s<sender> <seq> <phase> xxx..." from the text of "<room> <uid>: <text>".
bool parse_say(std::string_view payload, std::string_view room, SayId& say) {
    if (payload.size() <= room.size() || !payload.starts_with(room) || payload[room.size()] != ' ')
        return false;
    auto colon = payload.find(": ", room.size() + 1);
    if (colon == payload.npos) return false;
    std::string_view text = payload.substr(colon + 2);
    if (text.size() < 6 || text[0] != 's') return false;
    const char* end = text.data() + text.size();
    auto sender = std::from_chars(text.data() + 1, end, say.sender);
    if (sender.ec != std::errc{} || sender.ptr == end || *sender.ptr != ' ') return false;
    auto seq = std::from_chars(sender.ptr + 1, end, say.seq);
    if (seq.ec != std::errc{} || end - seq.ptr < 2 || *seq.ptr != ' ') return false;
    say.phase = seq.ptr[1];
    return say.phase == 'w' || say.phase == 'm';
}

/// What a fan-out run counted.
struct FanoutTally {
    std::uint64_t deliveries = 0;      ///< say frames received in the measured window, all members
    std::uint64_t says = 0;            ///< says completed (sender got its own frame) in the window
    std::uint64_t errors = 0;          ///< error frames and say frames that are not ours
    std::uint64_t lost = 0;            ///< (member, say after the warm-up) pairs never delivered
    std::uint64_t lost_in_warmup = 0;  ///< the same for says of the warm-up (not expected either)
    std::uint64_t out_of_order = 0;    ///< a sender's say delivered after a later one
    std::uint64_t other = 0;           ///< frames of other msgIDs (room events), not judged
    std::uint64_t owed_at_end = 0;     ///< deliveries still due when the measured window closed
    std::uint64_t closed = 0;          ///< members the server closed
};

/// Senders keep `window` says in flight each; every member counts what it receives. A say is
/// complete when its sender gets its own frame back, or with wait_all when every member has it.
class SayRun : public FrameSink {
public:
    SayRun(Members& members, const FanoutOptions& options)
        : members_(members),
          options_(options),
          senders_(options.senders),
          in_flight_(senders_, 0),
          sent_(senders_, 0),
          sent_after_warmup_(senders_, 0),
          unfinished_(senders_),
          oldest_unfinished_(senders_, 0),
          next_seq_(std::size_t{members.size()} * senders_, 0),
          got_after_warmup_(std::size_t{members.size()} * senders_, 0) {}

    FanoutTally run() {
        now_ = Clock::now();
        measure_from_ = now_ + to_duration(options_.warmup_s);
        measure_until_ = measure_from_ + to_duration(options_.duration_s);
        for (std::uint32_t s = 0; s < senders_; ++s)
            for (std::uint32_t w = 0; w < options_.window; ++w) send_say(s);
        members_.flush();
        loop_until([&] { return now_ >= measure_until_; });
        draining_ = true;
        tally_.owed_at_end = owed();
        // A server may answer a say before its fan-out is done, so deliveries can trail the
        // says by far: wait while they still come, and call lost what stopped coming.
        auto quiet_for = to_duration(options_.drain_s);
        last_delivery_ = now_;
        loop_until([&] { return owed() == 0 || now_ - last_delivery_ >= quiet_for; });
        count_lost();
        // Every delivery missing now that is not a lost one belongs to a warm-up say.
        tally_.lost_in_warmup = owed() > tally_.lost ? owed() - tally_.lost : 0;
        return tally_;
    }

    void on_frame(std::uint32_t member, std::uint32_t msg_id, Bytes data) override {
        if (msg_id == options_.error_msg_id) {
            ++tally_.errors;  // in place of a say's reply when the sender got it
            if (member < senders_ && in_flight_[member] > 0) fail_oldest(member);
            return;
        }
        if (msg_id != say_msg) {
            ++tally_.other;
            return;
        }
        SayId say;
        if (!parse_say(as_text(data), options_.room, say) || say.sender >= senders_) {
            ++tally_.errors;
            return;
        }
        deliver(member, say);
        if (options_.wait_all)
            count_towards_all(say);
        else if (member == say.sender)
            complete(member);
    }

    void on_closed(std::uint32_t member) override {
        ++tally_.closed;
        if (member < senders_) in_flight_[member] = 0;
    }

private:
    template <class Done>
    void loop_until(Done done) {
        while (!done()) {
            members_.poll(*this, 5);
            now_ = Clock::now();
            measuring_ = !draining_ && now_ >= measure_from_ && now_ < measure_until_;
        }
    }

    void deliver(std::uint32_t member, const SayId& say) {
        std::size_t slot = std::size_t{member} * senders_ + say.sender;
        if (say.seq < next_seq_[slot])
            ++tally_.out_of_order;
        else
            next_seq_[slot] = say.seq + 1;
        if (say.phase == 'm') ++got_after_warmup_[slot];
        ++delivered_all_;
        last_delivery_ = now_;
        if (measuring_) ++tally_.deliveries;
    }

    // Members of one sender's says get them in order, so its says finish in order too.
    void count_towards_all(const SayId& say) {
        auto& unfinished = unfinished_[say.sender];
        auto& oldest = oldest_unfinished_[say.sender];
        if (say.seq < oldest || say.seq - oldest >= unfinished.size()) return;
        auto& left = unfinished[say.seq - oldest];
        if (left > 0) --left;
        while (!unfinished.empty() && unfinished.front() == 0) {
            unfinished.pop_front();
            ++oldest;
            complete(say.sender);
        }
    }

    // An error frame stands for the oldest say of its sender: it will reach nobody.
    void fail_oldest(std::uint32_t sender) {
        if (options_.wait_all && !unfinished_[sender].empty()) {
            unfinished_[sender].pop_front();
            ++oldest_unfinished_[sender];
        }
        complete(sender);
    }

    void complete(std::uint32_t sender) {
        --in_flight_[sender];
        if (measuring_) ++tally_.says;
        if (!draining_) send_say(sender);
    }

    // "<room> s<sender> <seq> <phase> " then 'x' up to options.size bytes of text.
    void send_say(std::uint32_t sender) {
        if (!members_.is_open(sender)) return;
        std::uint64_t seq = sent_[sender]++;
        char phase = now_ >= measure_from_ ? 'm' : 'w';
        if (phase == 'm') ++sent_after_warmup_[sender];
        payload_.assign(options_.room).append(" s").append(std::to_string(sender));
        payload_.append(" ").append(std::to_string(seq)).append(" ").append(1, phase).append(" ");
        std::size_t text_end = options_.room.size() + 1 + options_.size;
        if (payload_.size() < text_end) payload_.resize(text_end, 'x');
        members_.send(sender, say_msg, as_bytes(payload_));
        ++in_flight_[sender];
        if (options_.wait_all) unfinished_[sender].push_back(members_.size());
    }

    // Deliveries still to come for the says sent so far (every member gets every say, its
    // sender included: once none is owed, no say is in flight either).
    std::uint64_t owed() const {
        std::uint64_t said = 0;
        for (auto count : sent_) said += count;
        std::uint64_t due = said * members_.size();
        return due > delivered_all_ ? due - delivered_all_ : 0;
    }

    void count_lost() {
        for (std::uint32_t m = 0; m < members_.size(); ++m)
            for (std::uint32_t s = 0; s < senders_; ++s) {
                auto got = got_after_warmup_[std::size_t{m} * senders_ + s];
                if (got < sent_after_warmup_[s]) tally_.lost += sent_after_warmup_[s] - got;
            }
    }

    Members& members_;
    const FanoutOptions& options_;
    std::uint32_t senders_;
    std::vector<std::uint32_t> in_flight_;               // per sender
    std::vector<std::uint64_t> sent_;                    // per sender, all says
    std::vector<std::uint64_t> sent_after_warmup_;       // per sender
    std::vector<std::deque<std::uint32_t>> unfinished_;  // per sender (wait_all): members to go
    std::vector<std::uint64_t> oldest_unfinished_;       // per sender: seq of unfinished_.front()
    std::vector<std::uint64_t> next_seq_;                // per (member, sender)
    std::vector<std::uint32_t> got_after_warmup_;        // per (member, sender)
    std::uint64_t delivered_all_ = 0;
    FanoutTally tally_;
    std::string payload_;
    Clock::time_point now_, measure_from_, measure_until_, last_delivery_;
    bool measuring_ = false;
    bool draining_ = false;
};

std::string ports_text(const FanoutOptions& options) {
    std::string text;
    for (auto port : options.endpoints.ports) {
        if (!text.empty()) text += ',';
        text += std::to_string(port);
    }
    return text;
}

unsigned long long count(std::uint64_t n) {
    return static_cast<unsigned long long>(n);
}

const char* completion(const FanoutOptions& options) {
    return options.wait_all ? "all" : "reply";
}

void report_json(const FanoutOptions& options, const FanoutTally& tally) {
    std::printf(
        "{\"members\": %u, \"ports\": [%s], \"room\": \"%s\", \"senders\": %u, \"window\": %u, "
        "\"complete\": \"%s\", \"size\": %u, \"values\": %u, \"duration_s\": %.1f, "
        "\"deliveries_per_s\": %.0f, \"says_per_s\": %.0f, \"errors\": %llu, \"lost\": %llu, "
        "\"lost_in_warmup\": %llu, "
        "\"out_of_order\": %llu, \"other\": %llu, \"closed\": %llu, \"owed_at_end\": %llu}\n",
        options.members, ports_text(options).c_str(), options.room.c_str(), options.senders,
        options.window, completion(options), options.size, options.values, options.duration_s,
        static_cast<double>(tally.deliveries) / options.duration_s,
        static_cast<double>(tally.says) / options.duration_s, count(tally.errors),
        count(tally.lost), count(tally.lost_in_warmup), count(tally.out_of_order),
        count(tally.other), count(tally.closed), count(tally.owed_at_end));
}

void report_text(const FanoutOptions& options, const FanoutTally& tally) {
    double deliveries_per_s = static_cast<double>(tally.deliveries) / options.duration_s;
    double says_per_s = static_cast<double>(tally.says) / options.duration_s;
    std::printf(
        "dinx-fanout: %u members on port(s) %s in room %s, %u sender(s) x %u says in flight "
        "(complete on %s), %u-byte texts, %.1f s after %.1f s warm-up\n",
        options.members, ports_text(options).c_str(), options.room.c_str(), options.senders,
        options.window, completion(options), options.size, options.duration_s, options.warmup_s);
    std::printf("deliveries/s: %.0f   says/s: %.0f   deliveries owed when measuring ended: %llu\n",
                deliveries_per_s, says_per_s, count(tally.owed_at_end));
    std::printf(
        "errors %llu   lost %llu (and %llu of the warm-up)   out-of-order %llu   other frames %llu"
        "   closed %llu\n",
        count(tally.errors), count(tally.lost), count(tally.lost_in_warmup),
        count(tally.out_of_order), count(tally.other), count(tally.closed));
    std::printf(
        "RESULT members=%u senders=%u window=%u complete=%s size=%u deliveries_per_s=%.0f "
        "says_per_s=%.0f errors=%llu lost=%llu lost_in_warmup=%llu out_of_order=%llu closed=%llu "
        "owed_at_end=%llu\n",
        options.members, options.senders, options.window, completion(options), options.size,
        deliveries_per_s, says_per_s, count(tally.errors), count(tally.lost),
        count(tally.lost_in_warmup), count(tally.out_of_order), count(tally.closed),
        count(tally.owed_at_end));
}

}  // namespace

int run_fanout(const FanoutOptions& options) {
    if (options.senders == 0 || options.senders > options.members)
        throw std::runtime_error("--senders must be between 1 and --members");
    raise_fd_limit(options.members);
    Members members(options.endpoints, options.members);
    set_up_members(members, options, /*join=*/true);
    auto tally = SayRun(members, options).run();
    if (options.json)
        report_json(options, tally);
    else
        report_text(options, tally);
    bool good = tally.says > 0 && tally.errors == 0 && tally.lost == 0 &&
                tally.lost_in_warmup == 0 && tally.out_of_order == 0 && tally.closed == 0;
    return good ? 0 : 1;
}

int run_hold(const FanoutOptions& options) {
    // Blocked now, taken by sigwait later: a stop signal can neither kill us nor be missed.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    ::pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
    raise_fd_limit(options.members);
    Members members(options.endpoints, options.members);
    set_up_members(members, options, /*join=*/false);
    std::printf("ready members=%u values=%u\n", options.members, options.values);
    std::fflush(stdout);
    int signal = 0;
    ::sigwait(&stop_signals, &signal);
    auto dropped = members.count_dropped();
    std::printf("held=%zu dropped=%zu\n", members.size() - dropped, dropped);
    return dropped == 0 ? 0 : 1;
}

}  // namespace dinx::bench
