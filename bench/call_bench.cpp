// dinx-callbench: calls per second and latency of calls between two backend nodes (issue 10).
// One executable, two roles in one conf, one process per node:
//   group `callee`: registers the method `echo` (a plain method returning its payload);
//   group `caller`: its on_start coroutine calls `echo` on the first node of group `callee`.
//
//   dinx-callbench --conf DIR --id N [--log-level L] [--callers 64] [--depth 1] [--seconds 5]
//                  [--warmup 1] [--size 64] [--timeout-ms 5000]
//
// The bench's own flags (--callers, --depth, --seconds, --warmup, --size, --timeout-ms, as
// "--flag VALUE" or "--flag=VALUE") are taken out of argv before App parses the rest, so App
// sees only --conf, --id and --log-level; every node of the conf may be given the same flags
// (only the caller uses them).
//
// The caller first calls echo once every 50 ms until a call succeeds (the callee may start
// after it; it gives up after 30 s), then runs callers x depth independent loops, each making
// one call at a time, so exactly callers x depth calls are in flight at every moment (a
// when_all of `depth` calls per round would leave fewer in flight while the round's slowest
// call is out). Every loop runs on the caller node's one io thread (a backend not marked
// parallel), so the tallies below need no lock. Each call's latency is steady_clock from just
// before ctx.call to its reply; the calls whose reply arrives in the measured window (after
// --warmup seconds, for --seconds seconds) are counted and their latencies kept, as dinx-load
// does with round trips. A reply that is not the payload sent, or a call that fails, is an
// error (by code), counted from the warm-up to the end; after a failure its loop waits 1 ms
// so that calls failing at once cannot spin the thread. At the end (every loop's last call
// answered) it prints one line:
//
//   RESULT callers=64 depth=1 size=64 calls=N seconds=S calls_per_s=X p50_us=A p99_us=B
//          p999_us=C errors=E errors_by_code=none|code:n,...
//
// then raises SIGTERM, so that App::run() drains and returns; the process exits 0, or 1 when the
// callee never answered or the conf has no node of group `callee`.

#include "bench/percentile.hpp"
#include "cluster/dinx.hpp"

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr std::string_view callee_group = "callee";
constexpr dinx::MethodRef echo_method{"echo"};

struct Options {
    unsigned callers = 64;
    unsigned depth = 1;
    double seconds = 5;
    double warmup = 1;
    unsigned size = 64;
    unsigned timeout_ms = 5000;
};

// What the caller's loops share. They all run on the caller node's one thread.
struct Tally {
    std::string payload;
    Clock::time_point measure_from, measure_until;
    std::uint64_t calls = 0;                      // replies in the measured window
    std::vector<std::uint32_t> latencies_ns;      // of those
    std::map<std::string, std::uint64_t> errors;  // by code, from the warm-up to the end
};

Options options;
Tally tally;
bool failed = false;

// ---- the bench's own flags ---------------------------------------------------------------------

bool parse_number(std::string_view text, double& out) {
    std::string copy(text);
    char* end = nullptr;
    out = std::strtod(copy.c_str(), &end);
    return !copy.empty() && end == copy.c_str() + copy.size();
}

// Takes the bench's flags out of argv (in place); returns the new argc, or -1 after a message.
int take_bench_flags(int argc, char** argv) {
    struct Flag {
        std::string_view name;
        double min, max;
        bool integer;
        void (*set)(double);
    };
    static const Flag flags[] = {
        {"--callers", 1, 100000, true, [](double v) { options.callers = unsigned(v); }},
        {"--depth", 1, 100000, true, [](double v) { options.depth = unsigned(v); }},
        {"--seconds", 0.001, 86400, false, [](double v) { options.seconds = v; }},
        {"--warmup", 0, 86400, false, [](double v) { options.warmup = v; }},
        {"--size", 1, 16 << 20, true, [](double v) { options.size = unsigned(v); }},
        {"--timeout-ms", 1, 86400000, true, [](double v) { options.timeout_ms = unsigned(v); }},
    };
    int kept = 1;
    for (int i = 1; i < argc; ++i) {
        std::string_view arg = argv[i];
        const Flag* flag = nullptr;
        std::string_view value;
        bool has_value = false;
        for (const auto& f : flags) {
            if (arg == f.name) {
                flag = &f;
                if (i + 1 < argc) value = argv[++i], has_value = true;
            } else if (arg.size() > f.name.size() && arg.substr(0, f.name.size()) == f.name &&
                       arg[f.name.size()] == '=') {
                flag = &f;
                value = arg.substr(f.name.size() + 1);
                has_value = true;
            }
            if (flag) break;
        }
        if (!flag) {
            argv[kept++] = argv[i];
            continue;
        }
        double number = 0;
        if (!has_value || !parse_number(value, number) || number < flag->min ||
            number > flag->max ||
            (flag->integer && number != static_cast<double>(static_cast<long long>(number)))) {
            std::fprintf(stderr, "dinx-callbench: %.*s needs a %s from %g to %g\n",
                         int(flag->name.size()), flag->name.data(),
                         flag->integer ? "whole number" : "number", flag->min, flag->max);
            return -1;
        }
        flag->set(number);
    }
    argv[kept] = nullptr;
    return kept;
}

// ---- the caller --------------------------------------------------------------------------------

void count_error(const dinx::CallReply& reply) {
    ++tally.errors[reply ? std::string("wrong_reply") : reply.error().code];
}

// One caller slot: one call at a time until the measured window is over.
dinx::Task<int> call_loop(dinx::Context& ctx, std::uint32_t callee) {
    const auto timeout = std::chrono::milliseconds(options.timeout_ms);
    while (Clock::now() < tally.measure_until) {
        auto sent = Clock::now();
        dinx::CallReply reply =
            co_await ctx.call(dinx::CallTarget::node(callee), echo_method, tally.payload, timeout);
        auto got = Clock::now();
        if (!reply || *reply != tally.payload) {
            count_error(reply);
            co_await ctx.sleep(1ms);
            continue;
        }
        if (got >= tally.measure_from && got < tally.measure_until) {
            ++tally.calls;
            auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(got - sent).count();
            tally.latencies_ns.push_back(
                static_cast<std::uint32_t>(std::min<long long>(ns, 0xFFFF'FFFF)));
        }
    }
    co_return 0;
}

void finish(bool ok) {
    failed = !ok;
    std::fflush(stdout);
    std::raise(SIGTERM);  // App::run() drains, stops the node and returns
}

dinx::Task<void> run_caller(dinx::Context& ctx) {
    std::uint32_t callee = 0;
    for (const auto& node : ctx.config().nodes)
        if (node.group == callee_group) {
            callee = node.id;
            break;
        }
    if (callee == 0) {
        std::fprintf(stderr, "dinx-callbench: the conf has no node of group '%s'\n",
                     std::string(callee_group).c_str());
        finish(false);
        co_return;
    }
    tally.payload.assign(options.size, 'x');

    // The callee may not listen yet: try until one call succeeds.
    auto waiting_since = Clock::now();
    dinx::CallReply ready = dinx::call_failure(dinx::CallError::unavailable, "not tried");
    while (Clock::now() - waiting_since < 30s) {
        ready = co_await ctx.call(dinx::CallTarget::node(callee), echo_method, tally.payload, 1s);
        if (ready && *ready == tally.payload) break;
        co_await ctx.sleep(50ms);
    }
    if (!ready || *ready != tally.payload) {
        std::fprintf(stderr, "dinx-callbench: node %u never answered echo in 30 s: %s %s\n", callee,
                     ready ? "wrong_reply" : ready.error().code.c_str(),
                     ready ? "" : ready.error().message.c_str());
        finish(false);
        co_return;
    }

    auto start = Clock::now();
    auto to_duration = [](double s) {
        return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
    };
    tally.measure_from = start + to_duration(options.warmup);
    tally.measure_until = tally.measure_from + to_duration(options.seconds);
    tally.latencies_ns.reserve(std::min<std::size_t>(
        static_cast<std::size_t>(options.seconds * 1'000'000) + 1024, 50'000'000));

    std::vector<dinx::Task<int>> loops;
    std::size_t slots = std::size_t(options.callers) * options.depth;
    loops.reserve(slots);
    for (std::size_t i = 0; i < slots; ++i) loops.push_back(call_loop(ctx, callee));
    co_await dinx::when_all(std::move(loops));

    double p50 = dinx::bench::percentile_us(tally.latencies_ns, 0.50);
    double p99 = dinx::bench::percentile_us(tally.latencies_ns, 0.99);
    double p999 = dinx::bench::percentile_us(tally.latencies_ns, 0.999);
    std::uint64_t errors = 0;
    std::string by_code;
    for (const auto& [code, count] : tally.errors) {
        errors += count;
        by_code += (by_code.empty() ? "" : ",") + code + ":" + std::to_string(count);
    }
    std::printf(
        "RESULT callers=%u depth=%u size=%u calls=%llu seconds=%.2f calls_per_s=%.0f "
        "p50_us=%.1f p99_us=%.1f p999_us=%.1f errors=%llu errors_by_code=%s\n",
        options.callers, options.depth, options.size, static_cast<unsigned long long>(tally.calls),
        options.seconds, static_cast<double>(tally.calls) / options.seconds, p50, p99, p999,
        static_cast<unsigned long long>(errors), by_code.empty() ? "none" : by_code.c_str());
    finish(true);
}

}  // namespace

int main(int argc, char** argv) {
    argc = take_bench_flags(argc, argv);
    if (argc < 0) return 2;
    dinx::App app{argc, argv, "dinx-callbench",
                  "\nBench flags (taken out before the ones above are parsed):\n"
                  "  --callers N (64)  --depth N (1): callers x depth calls kept in flight\n"
                  "  --seconds S (5)  --warmup S (1)  --size BYTES (64)  --timeout-ms MS (5000)\n"
                  "The node of group 'callee' serves echo; the node of group 'caller' calls it,\n"
                  "prints a RESULT line and stops its process."};
    app.method(echo_method, [](dinx::Context&, dinx::Bytes payload) -> dinx::CallReply {
        return std::string(dinx::as_text(payload));
    });
    app.on_start("caller", run_caller);
    int code = app.run();
    return code != 0 ? code : failed ? 1 : 0;
}
