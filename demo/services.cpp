#include "demo/services.hpp"

#ifdef DINX_DEMO_PROTOBUF
#include "cluster/typed/protobuf.hpp"
#include "rank.pb.h"
#endif

#include <algorithm>
#include <chrono>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace dinx::demo {
namespace {

using namespace std::chrono_literals;

// What a player's calls may take in all before the client hears an error.
constexpr auto call_timeout = 2s;
// How many players each rank node reports for the leaderboard.
constexpr int top_count = 5;

// --- account service: one node, a plain map of accounts ---------------------------------------

struct Account {
    int level = 1;
    int visits = 0;
};

using Accounts = std::map<std::string, Account, std::less<>>;
using Scores = std::map<std::string, long, std::less<>>;

// A node's own state. One process may run several nodes of a group (`dinx-demo --conf conf` runs
// them all), each on its own thread: so the state is per node. Finding a node's state is locked;
// the state itself is then touched only on that node's thread, with no lock.
template <class State>
State& state_of(const Context& ctx) {
    static std::mutex mutex;
    static std::map<std::uint32_t, State> by_node;  // std::map: references stay valid
    std::lock_guard lock(mutex);
    return by_node[ctx.node().id];
}

// "<uid>" -> "level L visits V". The account is "read from a database" first: blocking work
// runs on a worker thread, and the map is touched only back on the node's thread.
Task<CallReply> account_load(Context& ctx, Bytes payload) {
    std::string uid(as_text(payload));
    if (uid.empty()) co_return call_failure(CallError::application, "account.load needs a uid");
    co_await ctx.blocking([] { std::this_thread::sleep_for(1ms); });  // the database's latency
    auto& account = state_of<Accounts>(ctx)[uid];
    ++account.visits;
    account.level = 1 + account.visits / 3;
    co_return "level " + std::to_string(account.level) + " visits " +
        std::to_string(account.visits);
}

// --- rank service: each node ranks the players whose uid hashes to it -------------------------

// 1 + how many of `scores` are above `score`.
std::size_t rank_of(const Scores& scores, long score) {
    return 1 + static_cast<std::size_t>(
                   std::count_if(scores.begin(), scores.end(),
                                 [&](const auto& entry) { return entry.second > score; }));
}

std::string standing(Context& ctx, Scores& scores, const std::string& uid) {
    long score = scores[uid];
    return "score " + std::to_string(score) + ", rank " + std::to_string(rank_of(scores, score)) +
           " of " + std::to_string(scores.size()) + " on " + ctx.node().name;
}

// "<uid> <points>" -> the player's standing after adding the points.
CallReply rank_add(Context& ctx, Bytes payload) {
    std::istringstream in{std::string(as_text(payload))};
    std::string uid;
    long points = 0;
    if (!(in >> uid >> points))
        return call_failure(CallError::application, "rank.add needs '<uid> <points>'");
    auto& scores = state_of<Scores>(ctx);
    scores[uid] += points;
    return standing(ctx, scores, uid);
}

// "<uid>" -> "rank R of N".
CallReply rank_of_player(Context& ctx, Bytes payload) {
    std::string uid(as_text(payload));
    auto& scores = state_of<Scores>(ctx);
    long score = scores[uid];
    return "rank " + std::to_string(rank_of(scores, score)) + " of " +
           std::to_string(scores.size());
}

// -> "uid score\n..." for this node's best top_count players.
CallReply rank_top(Context& ctx, Bytes) {
    const auto& scores = state_of<Scores>(ctx);
    std::vector<std::pair<std::string, long>> best(scores.begin(), scores.end());
    std::sort(best.begin(), best.end(),
              [](const auto& a, const auto& b) { return a.second > b.second; });
    if (best.size() > top_count) best.resize(top_count);
    std::string out;
    for (const auto& [uid, score] : best) out += uid + " " + std::to_string(score) + "\n";
    return out;
}

// --- the gate's handlers ----------------------------------------------------------------------

// Tells the client why a call failed: the call's code, and what it said.
void fail_call(Context& ctx, std::string_view service, const CallFailure& failure) {
    ctx.fail(failure.code, std::string(service) + ": " + failure.message);
}

Task<void> on_sign_in(Context& ctx, Bytes payload) {
    std::string name(as_text(payload));
    if (name.empty() || name.size() > max_uid_size) {
        ctx.fail(Error::bad_request, "sign in needs a name of 1 to 255 bytes");
        co_return;
    }
    if (!ctx.bind(name)) co_return;  // refused: the error frame went already
    auto account =
        co_await ctx.call(CallTarget::any("account"), "account.load", name, call_timeout);
    if (!account) co_return fail_call(ctx, "account", account.error());
    // The player's own rank node: every call keyed by its uid goes to the same one.
    auto rank = co_await ctx.call(CallTarget::any("rank", name), "rank.of", name, call_timeout);
    if (!rank) co_return fail_call(ctx, "rank", rank.error());
    std::string text = *account;
    auto visits = text.find(" visits ");
    ctx.reply(sign_in, "welcome " + name + ": " + text.substr(0, visits) + ", visit " +
                           text.substr(visits + 8) + ", " + *rank);
}

Task<void> on_score(Context& ctx, Bytes payload) {
    const auto& uid = ctx.client().uid;
    std::string points(as_text(payload));
    auto standing = co_await ctx.call(CallTarget::any("rank", uid), "rank.add", uid + " " + points,
                                      call_timeout);
    if (!standing) co_return fail_call(ctx, "rank", standing.error());
    ctx.reply(score, uid + " +" + points + ": " + *standing);
}

// Every rank node's top players, merged; nodes that did not answer are named, not hidden.
Task<void> on_leaderboard(Context& ctx, Bytes) {
    auto replies = co_await ctx.call_all("rank", "rank.top", "", call_timeout);
    std::vector<std::pair<std::string, long>> merged;
    std::string missing;
    for (const auto& [node_id, reply] : replies) {
        if (!reply) {
            missing += " (node " + std::to_string(node_id) + ": " + reply.error().code + ")";
            continue;
        }
        std::istringstream in(*reply);
        std::string uid;
        long points = 0;
        while (in >> uid >> points) merged.emplace_back(uid, points);
    }
    std::sort(merged.begin(), merged.end(), [](const auto& a, const auto& b) {
        return a.second != b.second ? a.second > b.second : a.first < b.first;
    });
    if (merged.size() > top_count) merged.resize(top_count);
    std::string text = "top:";
    for (std::size_t i = 0; i < merged.size(); ++i)
        text += (i == 0 ? " " : ", ") + merged[i].first + " " + std::to_string(merged[i].second);
    if (merged.empty()) text += " nobody yet";
    ctx.reply(leaderboard, text + missing);
}

#ifdef DINX_DEMO_PROTOBUF

// The standing of a player on this rank node, as a protobuf message.
Standing rank_standing(Context& ctx, const StandingRequest& request) {
    auto& scores = state_of<Scores>(ctx);
    long points = scores[request.uid()];
    Standing out;
    out.set_uid(request.uid());
    out.set_score(points);
    out.set_rank(static_cast<std::uint32_t>(rank_of(scores, points)));
    out.set_of(static_cast<std::uint32_t>(scores.size()));
    out.set_node(ctx.node().name);
    return out;
}

Task<void> on_standing(Context& ctx, Bytes) {
    const auto& uid = ctx.client().uid;
    StandingRequest request;
    request.set_uid(uid);
    auto reply = co_await ctx.call(CallTarget::any("rank", uid), "rank.standing",
                                   cluster::to_proto_payload(request));
    auto standing = cluster::decode_proto_reply<Standing>(reply);
    if (!standing) co_return fail_call(ctx, "rank", standing.error());
    ctx.reply(dinx::demo::standing, uid + ": score " + std::to_string(standing->score()) +
                                        ", rank " + std::to_string(standing->rank()) + " of " +
                                        std::to_string(standing->of()) + " on " + standing->node() +
                                        " (protobuf)");
}

void register_typed(App& app) {
    app.method("rank.standing", cluster::proto_method<StandingRequest>(rank_standing));
    app.handle(dinx::demo::standing, on_standing);
}

#else

void register_typed(App& app) {
    app.handle(dinx::demo::standing, [](Context& ctx, Bytes) {
        ctx.reply(dinx::demo::standing, "standing needs a dinx-demo built with protobuf");
    });
}

#endif

}  // namespace

void register_services(App& app) {
    register_typed(app);
    app.method("account.load", account_load);
    app.method("rank.add", rank_add);
    app.method("rank.of", rank_of_player);
    app.method("rank.top", rank_top);
    app.handle(sign_in, on_sign_in);
    app.handle(score, on_score);
    app.handle(leaderboard, on_leaderboard);
}

}  // namespace dinx::demo
