#pragma once
// msgID -> handler table, filled at start-up and read-only while running.

#include <cstdint>
#include <stdexcept>
#include <string>
#include <unordered_map>

namespace dinx::node {

/// Maps message ids to handlers of any callable type.
template <class Handler>
class Router {
public:
    /// Registers the handler of `msg_id`; a second handler for the same id is a programming error.
    void add(std::uint32_t msg_id, Handler handler) {
        if (!handlers_.emplace(msg_id, std::move(handler)).second)
            throw std::logic_error("a handler for msg_id " + std::to_string(msg_id) +
                                   " is already registered");
    }
    /// The handler of `msg_id`, or nullptr.
    const Handler* find(std::uint32_t msg_id) const {
        auto it = handlers_.find(msg_id);
        return it == handlers_.end() ? nullptr : &it->second;
    }
    /// True when `msg_id` has a handler.
    bool contains(std::uint32_t msg_id) const { return handlers_.contains(msg_id); }

private:
    std::unordered_map<std::uint32_t, Handler> handlers_;
};

}  // namespace dinx::node
