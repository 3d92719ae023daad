// Task<T>: lazy start, values and exceptions through chains of awaits, resumption from outside
// (as a call's reply will resume a handler), and run_detached's end callback.

#include "cluster/api/task.hpp"

#include <doctest/doctest.h>

#include <coroutine>
#include <deque>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

using dinx::cluster::run_detached;
using dinx::cluster::Task;

namespace {

// Stands in for a shard's event loop: awaiting `next()` suspends until run_one() resumes it,
// with the value it is given then.
class Loop {
public:
    struct Wait {
        Loop& loop;
        int value = 0;
        bool await_ready() const noexcept { return false; }
        void await_suspend(std::coroutine_handle<> handle) {
            loop.waiting_.push_back({handle, this});
        }
        int await_resume() const noexcept { return value; }
    };

    Wait next() { return Wait{*this}; }
    /// Resumes the oldest waiter with `value`; false when nobody waits.
    bool run_one(int value) {
        if (waiting_.empty()) return false;
        auto [handle, wait] = waiting_.front();
        waiting_.pop_front();
        wait->value = value;
        handle.resume();
        return true;
    }
    std::size_t waiting() const { return waiting_.size(); }

private:
    std::deque<std::pair<std::coroutine_handle<>, Wait*>> waiting_;
};

Task<int> add_later(Loop& loop, int base) {
    int more = co_await loop.next();
    co_return base + more;
}

Task<std::string> describe(Loop& loop) {
    int a = co_await add_later(loop, 1);
    int b = co_await add_later(loop, 10);
    co_return std::to_string(a) + "," + std::to_string(b);
}

Task<int> fails_after_wait(Loop& loop) {
    co_await loop.next();
    throw std::runtime_error("callee broke");
}

Task<int> plain(int value) {
    co_return value;
}

Task<int> deep(int depth) {
    if (depth == 0) co_return 0;
    co_return 1 + co_await deep(depth - 1);
}

// Coroutines get what they touch as parameters, never as lambda captures: a lazy task outlives
// the temporary lambda that made it.
Task<void> set_flag(bool& flag) {
    flag = true;
    co_return;
}

template <class T>
Task<void> store(T& into, Task<T> from) {
    into = co_await std::move(from);
}

Task<void> catch_one_then_fail(Loop& loop, std::string& caught_inside) {
    try {
        co_await fails_after_wait(loop);
    } catch (const std::runtime_error& error) {
        caught_inside = error.what();
    }
    co_await fails_after_wait(loop);  // not caught: ends the task
}

Task<std::unique_ptr<int>> make_boxed(int value) {
    co_return std::make_unique<int>(value);
}

Task<int> read_shared(std::shared_ptr<int> held) {
    co_return *held;
}

}  // namespace

TEST_CASE("a task does not run until it is awaited") {
    bool ran = false;
    auto task = set_flag(ran);
    CHECK_FALSE(ran);
    CHECK_FALSE(task.done());
    bool ended = false;
    run_detached(std::move(task), [&](std::exception_ptr error) {
        CHECK_FALSE(error);
        ended = true;
    });
    CHECK(ran);
    CHECK(ended);
}

TEST_CASE("awaited tasks pass values up a chain that suspends and is resumed from outside") {
    Loop loop;
    std::string seen;
    bool ended = false;
    run_detached(store(seen, describe(loop)), [&](std::exception_ptr error) {
        CHECK_FALSE(error);
        ended = true;
    });
    CHECK_FALSE(ended);
    REQUIRE(loop.waiting() == 1);
    CHECK(loop.run_one(2));  // 1 + 2
    CHECK_FALSE(ended);
    CHECK(loop.run_one(5));  // 10 + 5
    CHECK(ended);
    CHECK(seen == "3,15");
    CHECK(loop.waiting() == 0);
}

TEST_CASE("an exception crosses awaits and reaches run_detached's end callback") {
    Loop loop;
    std::string caught_inside;
    std::exception_ptr at_end;
    bool ended = false;
    run_detached(catch_one_then_fail(loop, caught_inside), [&](std::exception_ptr error) {
        at_end = error;
        ended = true;
    });
    loop.run_one(0);
    CHECK(caught_inside == "callee broke");
    CHECK_FALSE(ended);
    loop.run_one(0);
    REQUIRE(ended);
    REQUIRE(at_end);
    CHECK_THROWS_WITH_AS(std::rethrow_exception(at_end), "callee broke", std::runtime_error);
}

TEST_CASE("a task that finishes without suspending hands its value back at once") {
    int seen = 0;
    run_detached(store(seen, plain(7)), [](std::exception_ptr) {});
    CHECK(seen == 7);
}

TEST_CASE("a chain of a thousand awaited tasks hands each value up") {
    int seen = -1;
    run_detached(store(seen, deep(1000)), [](std::exception_ptr) {});
    CHECK(seen == 1000);
}

TEST_CASE(
    "a task holding a move-only value, and one destroyed before it ran, free what they hold") {
    auto counter = std::make_shared<int>(0);
    {
        auto never_run = read_shared(counter);
        CHECK(counter.use_count() == 2);
    }
    CHECK(counter.use_count() == 1);
    std::unique_ptr<int> got;
    run_detached(store(got, make_boxed(42)), [](std::exception_ptr) {});
    REQUIRE(got);
    CHECK(*got == 42);
}

namespace {

// A task that ends when its gate opens (or at once when it is open).
struct Gate {
    bool open = false;
    std::coroutine_handle<> waiting;
    bool await_ready() const noexcept { return open; }
    void await_suspend(std::coroutine_handle<> h) { waiting = h; }
    void await_resume() const noexcept {}
    void release() {
        open = true;
        if (auto h = std::exchange(waiting, {})) h.resume();
    }
};

Task<int> wait_then(Gate& gate, int value) {
    co_await gate;
    co_return value;
}

Task<void> collect(std::vector<Task<int>> tasks, std::vector<int>& out) {
    out = co_await dinx::cluster::when_all(std::move(tasks));
}

}  // namespace

TEST_CASE("when_all runs its tasks together and gives their results in order once all ended") {
    Gate first, second;
    std::vector<Task<int>> tasks;
    tasks.push_back(wait_then(first, 1));
    tasks.push_back(wait_then(second, 2));
    std::vector<int> results;
    bool ended = false;
    dinx::cluster::run_detached(collect(std::move(tasks), results),
                                [&](std::exception_ptr) { ended = true; });
    // Both started: each waits at its own gate.
    CHECK(first.waiting);
    CHECK(second.waiting);
    second.release();
    CHECK_FALSE(ended);
    first.release();
    CHECK(ended);
    CHECK(results == std::vector<int>{1, 2});
}
