#pragma once
// co_spawn for fire-and-forget coroutines that must never take the process down.

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>

#include <string>

namespace dinx::node {

/// Runs `task` detached on `executor`; an exception escaping it is logged with `what`, not thrown.
void spawn_detached(const asio::any_io_executor& executor, asio::awaitable<void> task,
                    std::string what);

}  // namespace dinx::node
