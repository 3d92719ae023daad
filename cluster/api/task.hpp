#pragma once
// Task<T>: the coroutine type of handlers and RPC methods that await calls (C++20 coroutines,
// no asio in the API). A Task is lazy: it runs when it is awaited, or when the runtime starts it
// with run_detached(). When it finishes it resumes whoever awaited it, in the same thread. What
// a Task awaits (a call, a timer) resumes it on its node's executor: Task itself knows no
// threads. A coroutine lambda must not capture: the lazy task outlives the lambda object, so
// what it needs goes in as parameters (they are copied into the coroutine's frame).

#include <coroutine>
#include <cstddef>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

namespace dinx::cluster {

template <class T = void>
class Task;

namespace detail {

/// What every Task's promise holds: who awaits it and how it ended.
struct TaskPromiseBase {
    /// Resumes the awaiting coroutine (if any) once the task is over.
    struct FinalAwaiter {
        bool await_ready() const noexcept { return false; }
        template <class Promise>
        std::coroutine_handle<> await_suspend(std::coroutine_handle<Promise> done) noexcept {
            auto next = done.promise().continuation;
            return next ? next : std::noop_coroutine();
        }
        void await_resume() const noexcept {}
    };

    std::suspend_always initial_suspend() const noexcept { return {}; }
    FinalAwaiter final_suspend() const noexcept { return {}; }
    void unhandled_exception() noexcept { error = std::current_exception(); }

    std::coroutine_handle<> continuation;  ///< the coroutine awaiting this task
    std::exception_ptr error;              ///< what the task threw
};

template <class T>
struct TaskPromise : TaskPromiseBase {
    Task<T> get_return_object() noexcept;
    template <class U>
    void return_value(U&& value) {
        result.emplace(std::forward<U>(value));
    }
    /// The value, or what the task threw.
    T take() {
        if (error) std::rethrow_exception(error);
        return std::move(*result);
    }
    std::optional<T> result;
};

template <>
struct TaskPromise<void> : TaskPromiseBase {
    Task<void> get_return_object() noexcept;
    void return_void() const noexcept {}
    /// Rethrows what the task threw, if anything.
    void take() const {
        if (error) std::rethrow_exception(error);
    }
};

}  // namespace detail

/// A lazily started coroutine that produces a T (or throws). Move-only; awaiting it runs it.
template <class T>
class Task {
public:
    using promise_type = detail::TaskPromise<T>;

    /// An empty task (moved from); awaiting it is an error.
    Task() = default;
    Task(Task&& other) noexcept : handle_(std::exchange(other.handle_, {})) {}
    Task& operator=(Task&& other) noexcept {
        if (this != &other) {
            reset();
            handle_ = std::exchange(other.handle_, {});
        }
        return *this;
    }
    Task(const Task&) = delete;
    Task& operator=(const Task&) = delete;
    ~Task() { reset(); }

    /// True when it holds a coroutine that has finished.
    bool done() const noexcept { return handle_ && handle_.done(); }

    /// Awaiting a task starts it; the awaiting coroutine resumes when it is over.
    bool await_ready() const noexcept { return !handle_ || handle_.done(); }
    /// Runs the task now, in this thread, and resumes `awaiting` once it is over.
    std::coroutine_handle<> await_suspend(std::coroutine_handle<> awaiting) noexcept {
        handle_.promise().continuation = awaiting;
        return handle_;
    }
    /// Its value, or what it threw.
    T await_resume() { return handle_.promise().take(); }

private:
    friend promise_type;
    explicit Task(std::coroutine_handle<promise_type> handle) : handle_(handle) {}
    void reset() {
        if (handle_) handle_.destroy();
        handle_ = {};
    }

    std::coroutine_handle<promise_type> handle_;
};

namespace detail {

template <class T>
Task<T> TaskPromise<T>::get_return_object() noexcept {
    return Task<T>(std::coroutine_handle<TaskPromise<T>>::from_promise(*this));
}

inline Task<void> TaskPromise<void>::get_return_object() noexcept {
    return Task<void>(std::coroutine_handle<TaskPromise<void>>::from_promise(*this));
}

/// The frame run_detached() leaves behind: it runs to its end and frees itself.
struct Detached {
    struct promise_type {
        Detached get_return_object() const noexcept { return {}; }
        std::suspend_never initial_suspend() const noexcept { return {}; }
        std::suspend_never final_suspend() const noexcept { return {}; }
        void return_void() const noexcept {}
        // run_detached catches everything the task throws; only `on_end` could get here.
        void unhandled_exception() const noexcept { std::terminate(); }
    };
};

}  // namespace detail

/// Starts `task` now, in this thread; `on_end` is called once it is over, with what it threw
/// (null when it returned). `on_end` must not throw. Nothing owns the running task: whatever
/// it awaits must resume it (or destroy it by ending the process).
inline detail::Detached run_detached(Task<void> task,
                                     std::function<void(std::exception_ptr)> on_end) {
    std::exception_ptr error;
    try {
        co_await std::move(task);
    } catch (...) {
        error = std::current_exception();
    }
    on_end(error);
}

namespace detail {

/// What when_all's tasks share: their results, how many still run, who waits.
template <class T>
struct AllState {
    std::vector<std::optional<T>> results;
    std::exception_ptr error;  // the first thing a task threw
    std::size_t running = 0;
    bool starting = true;  // still inside the awaiter's await_suspend
    std::coroutine_handle<> waiting;

    void one_ended() {
        if (--running == 0 && !starting) waiting.resume();
    }
};

template <class T>
Detached run_into(Task<T> task, AllState<T>& state, std::size_t index) {
    try {
        state.results[index].emplace(co_await std::move(task));
    } catch (...) {
        if (!state.error) state.error = std::current_exception();
    }
    state.one_ended();
}

/// Awaiting it starts every task at once and resumes when the last one ends.
template <class T>
struct AllAwaiter {
    explicit AllAwaiter(std::vector<Task<T>> to_run) : tasks(std::move(to_run)) {}
    std::vector<Task<T>> tasks;
    AllState<T> state;

    bool await_ready() const noexcept { return tasks.empty(); }
    bool await_suspend(std::coroutine_handle<> waiting) {
        state.waiting = waiting;
        state.results.resize(tasks.size());
        state.running = tasks.size();
        for (std::size_t i = 0; i < tasks.size(); ++i) run_into(std::move(tasks[i]), state, i);
        state.starting = false;
        return state.running != 0;
    }
    std::vector<T> await_resume() {
        if (state.error) std::rethrow_exception(state.error);
        std::vector<T> out;
        out.reserve(state.results.size());
        for (auto& result : state.results) out.push_back(std::move(*result));
        return out;
    }
};

/// Awaits the AllAwaiter it points to: g++ 12 would copy an awaiter named by an lvalue.
template <class T>
struct AllAwaiterRef {
    AllAwaiter<T>* all;
    bool await_ready() const noexcept { return all->await_ready(); }
    bool await_suspend(std::coroutine_handle<> waiting) { return all->await_suspend(waiting); }
    std::vector<T> await_resume() { return all->await_resume(); }
};

/// Awaits `all` (owned here, so it outlives every task it started).
template <class T>
Task<std::vector<T>> run_all(std::unique_ptr<AllAwaiter<T>> all) {
    co_return co_await AllAwaiterRef<T>{all.get()};
}

}  // namespace detail

/// Runs `tasks` at once (co_await it: each starts in turn, and the ones that suspend, such as
/// calls, are then in flight together) and gives their results in the same order once every
/// one has ended. If any threw, the first exception is rethrown after all have ended.
template <class T>
Task<std::vector<T>> when_all(std::vector<Task<T>> tasks) {
    // Not a coroutine itself: g++ 12 mishandles an argument of a coroutine made inside a
    // co_await expression, which is where when_all is called from.
    return detail::run_all<T>(std::make_unique<detail::AllAwaiter<T>>(std::move(tasks)));
}

}  // namespace dinx::cluster
