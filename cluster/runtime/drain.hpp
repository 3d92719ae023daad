#pragma once
// What a node owes before it may stop, as one count: every piece of owed work enters when it
// begins and leaves when it is done (a request in flight, a peer's acknowledgement of our
// leaving, a client's bytes sent before the drain, a send queue to flush). Closing arms a
// completion that runs once nothing is owed, without polling anything.

#include <cstdint>
#include <functional>

namespace dinx::cluster {

/// The owed work of one shard. Used on its thread only.
class Drain {
public:
    /// One more piece of work is owed.
    void enter() { ++owed_; }
    /// One piece of owed work is done.
    void leave();
    /// From now on `done` runs (once) as soon as nothing is owed, now if nothing is.
    void close(std::function<void()> done);
    /// True once close() was called.
    bool closing() const { return closing_; }
    /// Work owed now.
    std::int64_t owed() const { return owed_; }
    /// Stops waiting: the completion will not run.
    void abandon() { done_ = nullptr; }

private:
    void finish_if_idle();

    std::int64_t owed_ = 0;
    bool closing_ = false;
    std::function<void()> done_;
};

}  // namespace dinx::cluster
