#pragma once
// What end-to-end tests need to drive real executables: a child process whose output lands in a
// file, a temporary directory, and loopback port helpers.

#include <sys/types.h>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace dinx::test {

/// A child process started with posix_spawn; its stdout and stderr go to one file, in the order
/// it wrote them. The destructor SIGKILLs and reaps a child that is still running, so a failed
/// test never leaves processes (and their ports) behind.
class ChildProcess {
public:
    /// Starts argv[0] (a path) with argv; throws std::system_error when it cannot be spawned.
    ChildProcess(std::vector<std::string> argv, std::filesystem::path output_file);
    ~ChildProcess();
    ChildProcess(ChildProcess&& other) noexcept;
    ChildProcess& operator=(ChildProcess&& other) noexcept;
    ChildProcess(const ChildProcess&) = delete;
    ChildProcess& operator=(const ChildProcess&) = delete;

    /// The child's process id.
    pid_t pid() const { return pid_; }
    /// Sends `signal` to the child; does nothing once it has been reaped (its pid may be reused).
    void send_signal(int signal);
    /// The exit code (128 + signal when a signal killed it), or nullopt if it still runs after
    /// `timeout`. Once reaped, every later call returns the same code at once.
    std::optional<int> wait_for_exit(std::chrono::milliseconds timeout);
    /// True until the child has been reaped.
    bool running();
    /// Everything the child wrote to stdout and stderr so far.
    std::string read_output() const;
    /// The file holding that output.
    const std::filesystem::path& output_file() const { return output_file_; }
    /// The command line, for messages.
    std::string command_line() const;

private:
    /// Reaps the child if it has exited, without blocking; true when it has been reaped.
    bool try_reap();
    /// SIGKILLs and reaps a child that still runs.
    void kill_and_reap();

    pid_t pid_ = -1;
    std::optional<int> exit_code_;
    std::vector<std::string> argv_;
    std::filesystem::path output_file_;
};

/// A fresh directory under /tmp, removed with everything in it when this object dies.
class TempDir {
public:
    /// Creates /tmp/<prefix>XXXXXX; throws std::system_error on failure.
    explicit TempDir(const std::string& prefix = "dinx-test-");
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    /// The directory.
    const std::filesystem::path& path() const { return path_; }

private:
    std::filesystem::path path_;
};

/// Holds 127.0.0.1:port bound and listening, so that nobody else can take it.
class TakenPort {
public:
    /// Binds and listens; throws std::system_error when the port is not free.
    explicit TakenPort(std::uint16_t port);
    ~TakenPort();
    TakenPort(const TakenPort&) = delete;
    TakenPort& operator=(const TakenPort&) = delete;

private:
    int fd_ = -1;
};

/// A TCP port of 127.0.0.1 that was free a moment ago, outside the kernel's ephemeral range and
/// claimed by this test process until it exits, so no parallel test takes it meanwhile.
std::uint16_t free_port();

/// `count` distinct free ports claimed like free_port's.
std::vector<std::uint16_t> free_ports(std::size_t count);

/// True when a TCP connect to 127.0.0.1:port succeeds now (the connection is closed at once).
bool port_accepts(std::uint16_t port);

/// Retries connecting to 127.0.0.1:port until it succeeds or `timeout` passes.
bool wait_for_port(std::uint16_t port, std::chrono::milliseconds timeout);

}  // namespace dinx::test
