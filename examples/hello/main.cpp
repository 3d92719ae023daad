// hello: the smallest dinx application, one gate with one handler.
//   hello --conf conf      runs the node of conf/dinx.toml; msgID 1 "bob" is answered "hello, bob"

#include "cluster/dinx.hpp"
#include "greet.hpp"

int main(int argc, char** argv) {
    dinx::App app{argc, argv, "hello"};  // parses --conf, --id, --log-level
    app.handle(hello::greet_msg_id, hello::greet);
    return app.run();  // runs until SIGINT or SIGTERM
}
