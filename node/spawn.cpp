#include "node/spawn.hpp"

#include <spdlog/spdlog.h>
#include <asio/co_spawn.hpp>

namespace dinx::node {

void spawn_detached(const asio::any_io_executor& executor, asio::awaitable<void> task,
                    std::string what) {
    asio::co_spawn(executor, std::move(task), [what = std::move(what)](std::exception_ptr error) {
        if (!error) return;
        try {
            std::rethrow_exception(error);
        } catch (const std::exception& e) {
            spdlog::error("{} stopped by an exception: {}", what, e.what());
        } catch (...) {
            spdlog::error("{} stopped by an unknown exception", what);
        }
    });
}

}  // namespace dinx::node
