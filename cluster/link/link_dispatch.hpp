#pragma once
// What an envelope of each kind does when it arrives on a ready link: a table filled once by
// the shard, instead of a switch that knows every role.

#include "cluster/link/envelope.hpp"

#include <array>
#include <functional>

namespace dinx::cluster {

class Link;

/// Envelope kind -> what to do with it. Used on one shard's thread.
class LinkDispatch {
public:
    /// What an envelope of one kind does.
    using Action = std::function<void(Link& link, const Envelope& envelope)>;

    /// Envelopes of `kind` run `action` from now on.
    void on(EnvelopeKind kind, Action action) {
        actions_[static_cast<std::size_t>(kind)] = std::move(action);
    }
    /// Runs the action of `envelope`'s kind; a kind without one is ignored.
    void dispatch(Link& link, const Envelope& envelope) const {
        const auto& action = actions_[static_cast<std::size_t>(envelope.kind)];
        if (action) action(link, envelope);
    }

private:
    std::array<Action, static_cast<std::size_t>(EnvelopeKind::call_reply) + 1> actions_;
};

}  // namespace dinx::cluster
