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

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <random>
#include <set>
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

// ---- test ports ----
//
// Tests hand ports to the nodes they start, and a node binds its port only a moment later. Two
// things can take the port in between (a node of the ctl test once found its link port taken):
// another test's outgoing connection, which gets its local port from the kernel's ephemeral
// range, and another test choosing the same port. So ports come from outside that range, and a
// test claims each with a byte-range lock on one shared file, which the kernel releases when
// the test process ends however it ends. tests/external/cluster.py claims the same way.

/// The first port a test may use: below it live the well-known services.
constexpr std::uint16_t lowest_test_port = 10000;

/// The kernel's ephemeral range ("low high" in /proc), or a guess when it cannot be read.
std::pair<unsigned, unsigned> ephemeral_range() {
    std::ifstream file("/proc/sys/net/ipv4/ip_local_port_range");
    unsigned low = 32768, high = 60999;
    if (!(file >> low >> high) || low > high) return {32768, 60999};
    return {low, high};
}

/// The ports outside the ephemeral range, from a random start so that parallel tests rarely
/// try the same ones first.
std::vector<std::uint16_t> test_port_candidates() {
    auto [low, high] = ephemeral_range();
    std::vector<std::uint16_t> ports;
    for (unsigned port = lowest_test_port; port <= 65535; ++port)
        if (port < low || port > high) ports.push_back(static_cast<std::uint16_t>(port));
    if (ports.empty()) return ports;
    std::random_device seed;
    auto start = std::uniform_int_distribution<std::size_t>(0, ports.size() - 1)(seed);
    std::rotate(ports.begin(), ports.begin() + static_cast<std::ptrdiff_t>(start), ports.end());
    return ports;
}

/// The descriptor of the shared claims file, opened once; it stays open until the process
/// exits, since closing any descriptor of the file would drop every lock this process holds.
int claims_file() {
    static const int fd = [] {
        int opened = ::open("/tmp/dinx-test-ports.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0666);
        if (opened < 0) throw os_error(errno, "open /tmp/dinx-test-ports.lock");
        return opened;
    }();
    return fd;
}

/// True when no test, this one included, claimed `port` before and it can be bound now; it is
/// then this process's until it exits. (A record lock does not exclude its own process, hence
/// the set.)
bool claim_port(std::uint16_t port) {
    static std::mutex mutex;
    static std::set<std::uint16_t> claimed;
    std::lock_guard guard(mutex);
    if (claimed.contains(port)) return false;
    struct flock lock{};
    lock.l_type = F_WRLCK;
    lock.l_whence = SEEK_SET;
    lock.l_start = port;
    lock.l_len = 1;
    if (::fcntl(claims_file(), F_SETLK, &lock) != 0) return false;  // another test's
    claimed.insert(port);  // (a port in use elsewhere stays claimed: no test should try it)
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw os_error(errno, "socket");
    auto address = loopback(port);
    bool bindable = ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
    ::close(fd);
    return bindable;
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
    std::vector<std::uint16_t> ports;
    for (auto candidate : test_port_candidates()) {
        if (ports.size() == count) break;
        if (claim_port(candidate)) ports.push_back(candidate);
    }
    if (ports.size() < count)
        throw std::runtime_error("no free test port left outside the ephemeral range");
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
