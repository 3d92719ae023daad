// dinx-ceiling: the physical limit of one hop on the machine at hand. A minimal single-threaded
// epoll server that echoes every byte back unchanged: no framing, no allocation per message, one
// read and one write per wake-up of a connection. Every dinx figure in BENCHMARKS.md is a ratio
// to what the same load tool gets from this server in the same run.
//
//   dinx-ceiling [--host 127.0.0.1] [--port 0]    prints "listening on port N", runs until killed

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace {

// Bytes a connection could not write at once (its peer reads slowly); usually empty.
struct Pending {
    std::vector<char> bytes;
};

volatile std::sig_atomic_t stop_requested = 0;

void on_signal(int) {
    stop_requested = 1;
}

void fail(const char* what) {
    std::perror(what);
    std::exit(1);
}

int listen_on(const std::string& host, int port) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<std::uint16_t>(port));
    if (::inet_pton(AF_INET, host.c_str(), &address.sin_addr) != 1) fail("inet_pton");
    if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) fail("bind");
    if (::listen(fd, SOMAXCONN) != 0) fail("listen");
    socklen_t len = sizeof address;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &len);
    std::printf("listening on port %d\n", ntohs(address.sin_port));
    std::fflush(stdout);
    return fd;
}

void raise_fd_limit() {
    rlimit limit{};
    ::getrlimit(RLIMIT_NOFILE, &limit);
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
}

class EchoServer {
public:
    explicit EchoServer(int listen_fd) : listen_fd_(listen_fd), epoll_fd_(::epoll_create1(0)) {
        add(listen_fd_);
    }

    void run() {
        epoll_event events[256];
        while (!stop_requested) {
            int n = ::epoll_wait(epoll_fd_, events, 256, 200);
            for (int i = 0; i < n; ++i) {
                int fd = events[i].data.fd;
                if (fd == listen_fd_)
                    accept_all();
                else
                    serve(fd, events[i].events);
            }
        }
    }

private:
    void add(int fd) {
        epoll_event event{};
        event.events = EPOLLIN;
        event.data.fd = fd;
        ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &event);
    }

    void accept_all() {
        while (true) {
            int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (fd < 0) return;
            int one = 1;
            ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            if (static_cast<std::size_t>(fd) >= pending_.size()) pending_.resize(fd + 1);
            add(fd);
        }
    }

    void close_connection(int fd) {
        ::close(fd);
        pending_[fd].bytes.clear();
    }

    // Level-triggered: one read per wake-up, whatever it got goes straight back.
    void serve(int fd, std::uint32_t events) {
        auto& pending = pending_[fd].bytes;
        if ((events & EPOLLOUT) && !flush(fd, pending)) return;
        if (!(events & EPOLLIN) || !pending.empty()) return;
        ssize_t got = ::recv(fd, buffer_, sizeof buffer_, 0);
        if (got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR)) {
            close_connection(fd);
            return;
        }
        if (got < 0) return;
        ssize_t sent = ::send(fd, buffer_, static_cast<std::size_t>(got), MSG_NOSIGNAL);
        if (sent < 0 && errno != EAGAIN) {
            close_connection(fd);
            return;
        }
        if (sent < got) {
            pending.assign(buffer_ + std::max<ssize_t>(sent, 0), buffer_ + got);
            watch_writable(fd, true);
        }
    }

    // Writes what a slow reader left; false when the connection was closed.
    bool flush(int fd, std::vector<char>& pending) {
        ssize_t sent = ::send(fd, pending.data(), pending.size(), MSG_NOSIGNAL);
        if (sent < 0 && errno != EAGAIN) {
            close_connection(fd);
            return false;
        }
        if (sent > 0) pending.erase(pending.begin(), pending.begin() + sent);
        if (pending.empty()) watch_writable(fd, false);
        return true;
    }

    void watch_writable(int fd, bool on) {
        epoll_event event{};
        event.events = on ? (EPOLLIN | EPOLLOUT) : EPOLLIN;
        event.data.fd = fd;
        ::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &event);
    }

    int listen_fd_;
    int epoll_fd_;
    std::vector<Pending> pending_;
    char buffer_[64 * 1024];
};

}  // namespace

int main(int argc, char** argv) {
    std::string host = "127.0.0.1";
    int port = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        std::string_view flag = argv[i];
        if (flag == "--host")
            host = argv[i + 1];
        else if (flag == "--port")
            port = std::atoi(argv[i + 1]);
        else {
            std::fprintf(stderr, "usage: dinx-ceiling [--host H] [--port P]\n");
            return 2;
        }
    }
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
    raise_fd_limit();
    EchoServer server(listen_on(host, port));
    server.run();
    return 0;
}
