// dinx-relay-ceiling: the limit of two hops on the machine at hand, what a cluster round trip
// (client -> gate -> backend -> gate -> client) is compared with. A minimal single-threaded
// epoll relay: it cuts the clients' zinx TLV frames, tags each with its connection, batches them
// on one link to a raw echo backend (dinx-ceiling), and routes the echoed frames back by their
// tag; each socket it made dirty in a wake-up is written once, at the end of that wake-up. No
// allocation per message, no envelope, no bookkeeping of requests: nothing a real gate could do
// without.
//
//   dinx-relay-ceiling --port P --backend-port B [--host 127.0.0.1]
//   prints "listening on port N" once the link to the backend is up; runs until killed

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace {

// A client frame: [msgID u32][dataLen u32][data], big-endian; on the link each one is preceded
// by the client's tag (u32).
constexpr std::size_t header_size = 8;
constexpr std::size_t tag_size = 4;
constexpr std::uint32_t max_data_len = 64 * 1024;

volatile std::sig_atomic_t stop_requested = 0;

void on_signal(int) {
    stop_requested = 1;
}

void fail(const char* what) {
    std::perror(what);
    std::exit(1);
}

std::uint32_t read_u32(const char* at) {
    std::uint32_t value;
    std::memcpy(&value, at, 4);
    return ntohl(value);
}

void append_u32(std::vector<char>& out, std::uint32_t value) {
    value = htonl(value);
    const char* bytes = reinterpret_cast<const char*>(&value);
    out.insert(out.end(), bytes, bytes + 4);
}

sockaddr_in address_of(const std::string& host, int port) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<std::uint16_t>(port));
    if (::inet_pton(AF_INET, host.c_str(), &address.sin_addr) != 1) fail("inet_pton");
    return address;
}

void no_delay(int fd) {
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

int connect_backend(const std::string& host, int port) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    auto address = address_of(host, port);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0)
        fail("connect to the backend");
    no_delay(fd);
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

int listen_on(const std::string& host, int port) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    auto address = address_of(host, port);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) fail("bind");
    if (::listen(fd, SOMAXCONN) != 0) fail("listen");
    socklen_t len = sizeof address;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &len);
    std::printf("listening on port %d\n", ntohs(address.sin_port));
    std::fflush(stdout);
    return fd;
}

/// One socket's buffers: bytes of a frame cut short by a read, and bytes to write.
struct Peer {
    std::vector<char> partial;
    std::vector<char> out;
    bool open = false;
    bool dirty = false;    // out grew in this wake-up
    bool waiting = false;  // out could not all be written: EPOLLOUT is watched
};

class Relay {
public:
    Relay(int listen_fd, int link_fd)
        : listen_fd_(listen_fd), link_fd_(link_fd), epoll_fd_(::epoll_create1(0)) {
        watch(listen_fd_, EPOLLIN, EPOLL_CTL_ADD);
        adopt(link_fd_);
    }

    void run() {
        epoll_event events[256];
        while (!stop_requested) {
            int n = ::epoll_wait(epoll_fd_, events, 256, 200);
            for (int i = 0; i < n; ++i) on_event(events[i].data.fd, events[i].events);
            flush_dirty();
        }
    }

private:
    void watch(int fd, std::uint32_t events, int op) {
        epoll_event event{};
        event.events = events;
        event.data.fd = fd;
        ::epoll_ctl(epoll_fd_, op, fd, &event);
    }

    void adopt(int fd) {
        if (static_cast<std::size_t>(fd) >= peers_.size()) peers_.resize(fd + 1);
        peers_[fd] = Peer{};
        peers_[fd].open = true;
        watch(fd, EPOLLIN, EPOLL_CTL_ADD);
    }

    void on_event(int fd, std::uint32_t events) {
        if (fd == listen_fd_) return accept_all();
        if (!peers_[fd].open) return;
        if (events & EPOLLOUT) write_out(fd);
        if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) read_in(fd);
    }

    void accept_all() {
        while (true) {
            int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (fd < 0) return;
            no_delay(fd);
            adopt(fd);
        }
    }

    void close_peer(int fd) {
        if (fd == link_fd_) fail("the backend closed the link");
        ::close(fd);
        peers_[fd].open = false;
    }

    // One read per wake-up; every whole frame it completes goes on its way.
    void read_in(int fd) {
        ssize_t got = ::recv(fd, buffer_, sizeof buffer_, 0);
        if (got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR)) return close_peer(fd);
        if (got < 0) return;
        auto& partial = peers_[fd].partial;
        const char* data = buffer_;
        std::size_t size = static_cast<std::size_t>(got);
        if (!partial.empty()) {  // rare: a frame was cut by the previous read
            partial.insert(partial.end(), data, data + size);
            std::size_t used = cut(fd, partial.data(), partial.size());
            partial.erase(partial.begin(), partial.begin() + static_cast<long>(used));
            return;
        }
        std::size_t used = cut(fd, data, size);
        partial.assign(data + used, data + size);
    }

    // Forwards the whole frames at the start of [data, data + size); returns the bytes used.
    std::size_t cut(int fd, const char* data, std::size_t size) {
        bool from_link = fd == link_fd_;
        std::size_t prefix = from_link ? tag_size : 0;
        std::size_t at = 0;
        while (size - at >= prefix + header_size) {
            std::uint32_t data_len = read_u32(data + at + prefix + 4);
            if (data_len > max_data_len) {
                close_peer(fd);
                return size;
            }
            std::size_t frame = prefix + header_size + data_len;
            if (size - at < frame) break;
            if (from_link)
                to_client(read_u32(data + at), data + at + tag_size, frame - tag_size);
            else
                to_link(fd, data + at, frame);
            at += frame;
        }
        return at;
    }

    void to_link(int client, const char* frame, std::size_t size) {
        auto& link = peers_[link_fd_];
        append_u32(link.out, static_cast<std::uint32_t>(client));
        link.out.insert(link.out.end(), frame, frame + size);
        mark_dirty(link_fd_);
    }

    void to_client(std::uint32_t client, const char* frame, std::size_t size) {
        if (client >= peers_.size() || !peers_[client].open) return;  // it left meanwhile
        auto& out = peers_[client].out;
        out.insert(out.end(), frame, frame + size);
        mark_dirty(static_cast<int>(client));
    }

    void mark_dirty(int fd) {
        if (peers_[fd].dirty) return;
        peers_[fd].dirty = true;
        dirty_.push_back(fd);
    }

    void flush_dirty() {
        for (int fd : dirty_) {
            peers_[fd].dirty = false;
            if (peers_[fd].open && !peers_[fd].waiting) write_out(fd);
        }
        dirty_.clear();
    }

    void write_out(int fd) {
        auto& peer = peers_[fd];
        ssize_t sent = ::send(fd, peer.out.data(), peer.out.size(), MSG_NOSIGNAL);
        if (sent < 0 && errno != EAGAIN) return close_peer(fd);
        if (sent > 0) peer.out.erase(peer.out.begin(), peer.out.begin() + sent);
        bool waiting = !peer.out.empty();
        if (waiting != peer.waiting) watch(fd, waiting ? EPOLLIN | EPOLLOUT : EPOLLIN, EPOLL_CTL_MOD);
        peer.waiting = waiting;
    }

    int listen_fd_;
    int link_fd_;
    int epoll_fd_;
    std::vector<Peer> peers_;  // by fd
    std::vector<int> dirty_;
    char buffer_[64 * 1024];
};

void raise_fd_limit() {
    rlimit limit{};
    ::getrlimit(RLIMIT_NOFILE, &limit);
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
}

}  // namespace

int main(int argc, char** argv) {
    std::string host = "127.0.0.1";
    int port = 0, backend_port = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        std::string_view flag = argv[i];
        if (flag == "--host")
            host = argv[i + 1];
        else if (flag == "--port")
            port = std::atoi(argv[i + 1]);
        else if (flag == "--backend-port")
            backend_port = std::atoi(argv[i + 1]);
        else
            backend_port = -1;
    }
    if (backend_port <= 0) {
        std::fprintf(stderr, "usage: dinx-relay-ceiling --port P --backend-port B [--host H]\n");
        return 2;
    }
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
    raise_fd_limit();
    int link = connect_backend(host, backend_port);
    Relay relay(listen_on(host, port), link);
    relay.run();
    return 0;
}
