#pragma once
// The one call a framework user makes: parse the command line, register handlers, run.

#include "cluster/api/handler.hpp"
#include "dict/config.hpp"

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace dinx::cluster {

/// Exit codes of App::run().
enum ExitCode : int {
    exit_ok = 0,            ///< stopped by SIGINT/SIGTERM
    exit_start_failed = 1,  ///< e.g. a port is taken
    exit_bad_config = 2,    ///< a mistake in the command line, dinx.toml or route.toml
};

/// Parses `--conf DIR`, `--id N` (repeatable) and `--log-level`, then runs those nodes (or every
/// node of the config) until SIGINT or SIGTERM; SIGHUP reloads the config. `PROGRAM ctl ...` is
/// the operator's command line instead (cluster/observe/ctl.hpp).
class App {
public:
    /// Parses the command line; mistakes are reported by run(). `help_footer` ends --help.
    App(int argc, char** argv, std::string program = "dinx", std::string help_footer = {});
    ~App();
    App(const App&) = delete;
    App& operator=(const App&) = delete;

    /// Registers the handler of `msg_id` on every node of this process: a plain function
    /// (Handler) or a coroutine returning Task<void> (CoroutineHandler).
    template <class Function>
    void handle(std::uint32_t msg_id, Function handler) {
        if constexpr (std::is_same_v<std::invoke_result_t<Function&, Context&, Bytes>, Task<void>>)
            handle_coroutine(msg_id, CoroutineHandler(std::move(handler)));
        else
            handle_plain(msg_id, Handler(std::move(handler)));
    }
    /// Registers a method other services call, by number or by name: a coroutine returning
    /// Task<CallReply> (Method), or a plain function returning CallReply (PlainMethod).
    template <class Function>
    void method(MethodRef method, Function run) {
        using Returned = std::invoke_result_t<Function&, Context&, Bytes>;
        if constexpr (std::is_same_v<Returned, Task<CallReply>>)
            add_method(method, Method(std::move(run)));
        else
            add_method(method, plain_method(PlainMethod(std::move(run))));
    }
    /// Runs `run` every `period` on each node of `group` in this process, on the node's thread
    /// (so it may touch the node's state like its handlers do).
    void every(std::string group, std::chrono::milliseconds period,
               std::function<void(Context&)> run);
    /// Starts `run` once on each node of `group` in this process when it starts, on the node's
    /// thread, with a context that lives until it ends (a game loop, a load generator).
    void on_start(std::string group, std::function<Task<void>(Context&)> run);
    /// Appends an interceptor to the chain every gate of this process runs on client frames.
    void intercept(Interceptor interceptor);
    /// Registers the handler of session events, run on nodes of the groups that listen to
    /// them (route.toml `[events]`).
    void on_session_event(SessionEventHandler handler);
    /// Registers a client frame layout of the game's own; a listener in dinx.toml uses it with
    /// `framing = "<format.name()>"`.
    void framing(std::shared_ptr<const FrameFormat> format);
    /// Loads the config, starts the nodes, waits for a stop signal. Returns an ExitCode.
    int run();

private:
    void handle_plain(std::uint32_t msg_id, Handler handler);
    void handle_coroutine(std::uint32_t msg_id, CoroutineHandler handler);
    void add_method(MethodRef method, Method run);

    /// Fills in every node when no --id was given; a mistake in the ids, or "".
    std::string check_ids(const dict::Config& config);
    /// Runs the nodes until a stop signal, then drains and stops them.
    int serve(dict::Config config);

    struct Options;
    std::unique_ptr<Options> options_;
    std::shared_ptr<HandlerTable> handlers_;
};

}  // namespace dinx::cluster
