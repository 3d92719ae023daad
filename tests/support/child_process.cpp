#include "tests/support/child_process.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <system_error>
#include <thread>
#include <utility>

extern char** environ;

namespace dinx::test {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

/// Between two polls of a child or a port: short, since tests wait on these often.
constexpr milliseconds poll_interval{5};

std::system_error os_error(int error, const std::string& what) {
    return std::system_error(error, std::generic_category(), what);
}

// A test that crashes or is killed by ctest's timeout never runs its destructors; the nodes it
// started would then run forever and hold their ports. setpriv (util-linux, on every Debian)
// makes the kernel SIGKILL the child when the thread that spawned it dies.
constexpr const char* setpriv_path = "/usr/bin/setpriv";

std::vector<std::string> with_death_signal(std::vector<std::string> argv) {
    if (::access(setpriv_path, X_OK) != 0) return argv;
    std::vector<std::string> wrapped{setpriv_path, "--pdeathsig", "KILL", "--"};
    wrapped.insert(wrapped.end(), argv.begin(), argv.end());
    return wrapped;
}

int exit_code_of(int status) {
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return -1;
}

/// A socket address for 127.0.0.1:port.
sockaddr_in loopback(std::uint16_t port) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return address;
}

/// A socket bound to 127.0.0.1:0; the caller closes it.
int bind_any_port() {
    // CLOEXEC: children spawned meanwhile must not inherit the socket and keep the port taken.
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw os_error(errno, "socket");
    auto address = loopback(0);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
        int error = errno;
        ::close(fd);
        throw os_error(error, "bind 127.0.0.1:0");
    }
    return fd;
}

std::uint16_t bound_port(int fd) {
    sockaddr_in address{};
    socklen_t length = sizeof address;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0)
        throw os_error(errno, "getsockname");
    return ntohs(address.sin_port);
}

}  // namespace

// ---- ChildProcess ------------------------------------------------------------------------------

ChildProcess::ChildProcess(std::vector<std::string> argv, std::filesystem::path output_file)
    : argv_(std::move(argv)), output_file_(std::move(output_file)) {
    if (argv_.empty()) throw std::invalid_argument("ChildProcess needs a program");
    auto spawned = with_death_signal(argv_);
    std::vector<char*> args;
    for (auto& arg : spawned) args.push_back(arg.data());
    args.push_back(nullptr);

    posix_spawn_file_actions_t actions;
    ::posix_spawn_file_actions_init(&actions);
    // stdin from /dev/null, so an interactive child never waits on the test's terminal; stdout
    // and stderr share one file description, so their lines keep the order they were written in.
    ::posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    ::posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, output_file_.c_str(),
                                       O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
    ::posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
    int error = ::posix_spawn(&pid_, args[0], &actions, nullptr, args.data(), environ);
    ::posix_spawn_file_actions_destroy(&actions);
    if (error != 0) {
        pid_ = -1;
        throw os_error(error, "posix_spawn " + command_line());
    }
}

ChildProcess::~ChildProcess() {
    kill_and_reap();
}

ChildProcess::ChildProcess(ChildProcess&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)),
      exit_code_(other.exit_code_),
      argv_(std::move(other.argv_)),
      output_file_(std::move(other.output_file_)) {}

ChildProcess& ChildProcess::operator=(ChildProcess&& other) noexcept {
    if (this != &other) {
        kill_and_reap();
        pid_ = std::exchange(other.pid_, -1);
        exit_code_ = other.exit_code_;
        argv_ = std::move(other.argv_);
        output_file_ = std::move(other.output_file_);
    }
    return *this;
}

void ChildProcess::send_signal(int signal) {
    if (pid_ > 0 && !try_reap()) ::kill(pid_, signal);
}

std::optional<int> ChildProcess::wait_for_exit(milliseconds timeout) {
    auto deadline = steady_clock::now() + timeout;
    while (!try_reap()) {
        if (steady_clock::now() >= deadline) return std::nullopt;
        std::this_thread::sleep_for(poll_interval);
    }
    return exit_code_;
}

bool ChildProcess::running() {
    return pid_ > 0 && !try_reap();
}

std::string ChildProcess::read_output() const {
    std::ifstream in(output_file_, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

std::string ChildProcess::command_line() const {
    std::string line;
    for (const auto& arg : argv_) line += (line.empty() ? "" : " ") + arg;
    return line;
}

bool ChildProcess::try_reap() {
    if (exit_code_) return true;
    if (pid_ <= 0) return false;
    int status = 0;
    pid_t reaped = ::waitpid(pid_, &status, WNOHANG);
    if (reaped == pid_) {
        exit_code_ = exit_code_of(status);
        return true;
    }
    if (reaped < 0 && errno != EINTR)
        exit_code_ = -1;  // not our child any more: nothing to wait for
    return exit_code_.has_value();
}

void ChildProcess::kill_and_reap() {
    if (pid_ <= 0 || try_reap()) return;
    ::kill(pid_, SIGKILL);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    exit_code_ = exit_code_of(status);
}

// ---- TempDir -----------------------------------------------------------------------------------

TempDir::TempDir(const std::string& prefix) {
    std::string pattern = "/tmp/" + prefix + "XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) throw os_error(errno, "mkdtemp " + pattern);
    path_ = pattern;
}

TempDir::~TempDir() {
    std::error_code ignored;  // a destructor cannot report; /tmp is cleaned eventually anyway
    std::filesystem::remove_all(path_, ignored);
}

// ---- ports -------------------------------------------------------------------------------------

std::uint16_t free_port() {
    return free_ports(1).front();
}

std::vector<std::uint16_t> free_ports(std::size_t count) {
    // Every socket stays bound until all ports are known, so the kernel cannot hand out one
    // port twice.
    std::vector<int> fds;
    std::vector<std::uint16_t> ports;
    try {
        for (std::size_t i = 0; i < count; ++i) {
            fds.push_back(bind_any_port());
            ports.push_back(bound_port(fds.back()));
        }
    } catch (...) {
        for (int fd : fds) ::close(fd);
        throw;
    }
    for (int fd : fds) ::close(fd);
    return ports;
}

TakenPort::TakenPort(std::uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) throw os_error(errno, "socket");
    auto address = loopback(port);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::listen(fd_, 1) != 0) {
        int error = errno;
        ::close(fd_);
        throw os_error(error, "take 127.0.0.1:" + std::to_string(port));
    }
}

TakenPort::~TakenPort() {
    ::close(fd_);
}

bool port_accepts(std::uint16_t port) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw os_error(errno, "socket");
    auto address = loopback(port);
    // Non-blocking with a bound wait: a listener whose backlog is full drops our SYN, and a
    // blocking connect would then hang for seconds.
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
    bool connected = ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
    if (!connected && errno == EINPROGRESS) {
        pollfd wait{fd, POLLOUT, 0};
        int error = 0;
        socklen_t length = sizeof error;
        connected = ::poll(&wait, 1, 200) == 1 &&
                    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) == 0 && error == 0;
    }
    ::close(fd);
    return connected;
}

bool wait_for_port(std::uint16_t port, milliseconds timeout) {
    auto deadline = steady_clock::now() + timeout;
    while (!port_accepts(port)) {
        if (steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(milliseconds(10));
    }
    return true;
}

}  // namespace dinx::test
