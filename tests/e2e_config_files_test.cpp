// End-to-end tests of conf files that are not regular files, and of ports another process must
// dial: the real dinx-demo must refuse them promptly with exit code 2, naming the file, instead
// of blocking on a FIFO or reading a device without end.
//
// Every wait is bounded: a dinx-demo still running after 5 s fails the test and is SIGKILLed by
// ChildProcess's destructor.

#include "tests/support/child_process.hpp"

#include <doctest/doctest.h>

#include <sys/stat.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using dinx::test::ChildProcess;
using dinx::test::TempDir;

constexpr const char* demo_path = DINX_DEMO_PATH;

/// The longest a refused config may take (the issue's bound).
constexpr std::chrono::milliseconds promised_bound = 5s;

/// A valid route.toml for a cluster with groups gate and im.
constexpr std::string_view routes = R"(
[[gate]]
msg_id = 1
name = "login"

[[im]]
msg_id = 3
name = "send"
)";

/// dinx.toml with gate-1 (`port` on line 7) and im-1 (`port` on line 15). The ports are never
/// opened: every test here is refused before anything listens.
std::string nodes(int gate_port, int im_port) {
    return "\n[[gate]]\nid = 1\nname = \"gate-1\"\ntype = \"frontend\"\nhost = \"127.0.0.1\"\n"
           "port = " +
           std::to_string(gate_port) +
           "\nlink_port = 1\n\n[[im]]\nid = 2\nname = \"im-1\"\ntype = \"backend\"\n"
           "host = \"127.0.0.1\"\nport = " +
           std::to_string(im_port) + "\n";
}

void write_file(const fs::path& path, std::string_view text) {
    std::ofstream out(path, std::ios::binary);
    out << text;
    REQUIRE(out.good());
}

bool contains(std::string_view text, std::string_view part) {
    return text.find(part) != std::string_view::npos;
}

/// Runs `dinx-demo --conf DIR [--id ID]`, which must exit with code 2 within 5 s; returns what
/// it printed.
std::string check_refused(const TempDir& dir, std::optional<std::uint32_t> id = std::nullopt) {
    std::vector<std::string> argv{demo_path, "--conf", dir.path().string()};
    if (id) argv.insert(argv.end(), {"--id", std::to_string(*id)});
    ChildProcess process(argv, dir.path() / "dinx-demo.log");
    auto exit_code = process.wait_for_exit(promised_bound);
    auto output = process.read_output();
    INFO("output of " << process.command_line() << ":\n" << output);
    REQUIRE_MESSAGE(exit_code.has_value(), "still running 5 s after start");
    CHECK(*exit_code == 2);
    return output;
}

}  // namespace

TEST_CASE("a FIFO as dinx.toml makes dinx-demo exit 2 within 5 s naming the file") {
    TempDir dir("dinx-e2e-config-");
    REQUIRE(::mkfifo((dir.path() / "dinx.toml").c_str(), 0600) == 0);
    write_file(dir.path() / "route.toml", routes);
    auto output = check_refused(dir);
    CHECK(contains(output, "dinx: " + (dir.path() / "dinx.toml").string() +
                               ": cannot read file: it is a FIFO, not a regular file"));
}

TEST_CASE("dinx.toml linked to /dev/zero makes dinx-demo exit 2 within 5 s naming the file") {
    TempDir dir("dinx-e2e-config-");
    fs::create_symlink("/dev/zero", dir.path() / "dinx.toml");
    write_file(dir.path() / "route.toml", routes);
    auto output = check_refused(dir);
    CHECK(contains(output, "dinx: " + (dir.path() / "dinx.toml").string() +
                               ": cannot read file: it is a character device, not a regular file"));
}

TEST_CASE("a frontend on port 0 makes dinx-demo exit 2 naming the port's line") {
    TempDir dir("dinx-e2e-config-");
    write_file(dir.path() / "dinx.toml", nodes(0, 20000));
    write_file(dir.path() / "route.toml", routes);
    auto output = check_refused(dir);
    CHECK(contains(output, "dinx: " + (dir.path() / "dinx.toml").string() +
                               ":7: frontend 'gate-1' has 'port' 0 (any free port)"));
}

TEST_CASE("a backend on port 0 makes dinx-demo running one node exit 2 naming the port's line") {
    TempDir dir("dinx-e2e-config-");
    write_file(dir.path() / "dinx.toml", nodes(10000, 0));
    write_file(dir.path() / "route.toml", routes);
    auto output = check_refused(dir, 2);
    CHECK(contains(output, "dinx: " + (dir.path() / "dinx.toml").string() +
                               ":15: backend 'im-1' has 'port' 0 (any free port)"));
}
