// dinx-demo: every process of the demo cluster runs this executable.
//   dinx-demo --conf conf --id 1      runs node 1 (repeat --id for more; omit it for all)
//   dinx-demo client --script         talks to a gate like a player

#include "cluster/dinx.hpp"
#include "demo/client.hpp"
#include "demo/handlers.hpp"
#include "demo/services.hpp"

#include <string_view>

int main(int argc, char** argv) {
    if (argc > 1 && std::string_view(argv[1]) == "client")
        return dinx::demo::run_client(argc - 1, argv + 1);
    dinx::App app{argc, argv, "dinx-demo", "\nThe demo client: dinx-demo client --help"};
    dinx::demo::register_demo_handlers([&](std::uint32_t msg_id, dinx::Handler handler) {
        app.handle(msg_id, std::move(handler));
    });
    dinx::demo::register_services(app);
    dinx::demo::register_demo_interceptors(
        [&](dinx::Interceptor interceptor) { app.intercept(std::move(interceptor)); });
    return app.run();
}
