#include "cluster/runtime/drain.hpp"

#include <utility>

namespace dinx::cluster {

void Drain::leave() {
    if (owed_ > 0) --owed_;
    finish_if_idle();
}

void Drain::close(std::function<void()> done) {
    closing_ = true;
    done_ = std::move(done);
    finish_if_idle();
}

void Drain::finish_if_idle() {
    if (!closing_ || owed_ > 0 || !done_) return;
    std::exchange(done_, nullptr)();  // it may close() again with a next step
}

}  // namespace dinx::cluster
