// dinx-fanout-ceiling: the limit of room broadcast on the machine at hand. A minimal
// single-threaded epoll server that speaks the demo's room messages in zinx TLV frames:
//
//   1 login <name>          -> 1 "welcome <name>"
//   7 join <room>           -> 7 "joined <room>: <n> members"
//   12 set <key> <value>    -> 12 "<key>=<value>"
//   9 say <room> <text>     -> 9 "<room> <uid>: <text>" to every member, the sender included
//
// A say's frame is built once and queued by reference to every member; each socket with frames
// queued is written with one writev per wake-up, gathering all of them. No other work is done,
// so what dinx-fanout gets from it is the ceiling that dinx's room fan-out is a ratio to.
//
//   dinx-fanout-ceiling [--host 127.0.0.1] [--port 0]   prints "listening on port N"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace {

constexpr std::uint32_t login_id = 1;
constexpr std::uint32_t join_id = 7;
constexpr std::uint32_t say_id = 9;
constexpr std::uint32_t set_id = 12;
constexpr std::uint32_t error_id = 0xFFFF'FFFF;
constexpr std::uint32_t max_data_len = 64 * 1024;

volatile std::sig_atomic_t stop_requested = 0;

void on_signal(int) {
    stop_requested = 1;
}

void fail(const char* what) {
    std::perror(what);
    std::exit(1);
}

/// A whole frame shared by the send queues it sits in; freed by the last one.
struct Frame {
    std::string bytes;       ///< header and payload
    std::uint32_t refs = 0;  ///< queues holding it (single-threaded: no atomics)
};

void put_u32(std::string& out, std::uint32_t value) {
    std::uint32_t big = htonl(value);
    out.append(reinterpret_cast<const char*>(&big), sizeof big);
}

std::uint32_t get_u32(const char* in) {
    std::uint32_t big;
    std::memcpy(&big, in, sizeof big);
    return ntohl(big);
}

Frame* make_frame(std::uint32_t msg_id, std::string_view payload) {
    auto* frame = new Frame;
    frame->bytes.reserve(8 + payload.size());
    put_u32(frame->bytes, msg_id);
    put_u32(frame->bytes, static_cast<std::uint32_t>(payload.size()));
    frame->bytes.append(payload);
    return frame;
}

void release(Frame* frame) {
    if (--frame->refs == 0) delete frame;
}

/// One client: its unread bytes, its login, its rooms and what waits to be written to it.
struct Conn {
    std::string in;                                           ///< bytes of an incomplete frame
    std::string uid;                                          ///< empty before login
    std::vector<std::string> rooms;                           ///< to leave them on close
    std::vector<std::pair<std::string, std::string>> values;  ///< session values (msg 12)
    std::vector<Frame*> queue;                                ///< frames to write, oldest first
    std::size_t written = 0;  ///< bytes of queue.front() already written
    bool open = false;
    bool dirty = false;  ///< in the server's list of sockets to write this wake-up
    bool watching_out = false;
};

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

class FanoutServer {
public:
    explicit FanoutServer(int listen_fd) : listen_fd_(listen_fd), epoll_fd_(::epoll_create1(0)) {
        watch(EPOLL_CTL_ADD, listen_fd_, EPOLLIN);
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
            flush_dirty();
        }
    }

private:
    void watch(int op, int fd, std::uint32_t events) {
        epoll_event event{};
        event.events = events;
        event.data.fd = fd;
        ::epoll_ctl(epoll_fd_, op, fd, &event);
    }

    void accept_all() {
        while (true) {
            int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (fd < 0) return;
            int one = 1;
            ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            if (static_cast<std::size_t>(fd) >= conns_.size()) conns_.resize(fd + 1);
            conns_[fd] = Conn{};
            conns_[fd].open = true;
            watch(EPOLL_CTL_ADD, fd, EPOLLIN);
        }
    }

    void close_connection(int fd) {
        auto& conn = conns_[fd];
        for (const auto& room : conn.rooms) std::erase(rooms_[room], fd);
        for (auto* frame : conn.queue) release(frame);
        conn = Conn{};  // open = false: a dirty entry left for it is skipped
        ::close(fd);
    }

    // Level-triggered: one read per wake-up; every complete frame is answered at once.
    void serve(int fd, std::uint32_t events) {
        if ((events & EPOLLOUT) && !write(fd)) return;
        if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR))) return;
        ssize_t got = ::recv(fd, buffer_, sizeof buffer_, 0);
        if (got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR)) {
            close_connection(fd);
            return;
        }
        if (got > 0 && !take(fd, std::string_view(buffer_, static_cast<std::size_t>(got))))
            close_connection(fd);
    }

    // Decodes the frames of a read (after what an earlier read left); false on an oversized one.
    bool take(int fd, std::string_view chunk) {
        auto& in = conns_[fd].in;
        std::string_view bytes = chunk;
        if (!in.empty()) {
            in.append(chunk);
            bytes = in;
        }
        std::size_t used = 0;
        while (bytes.size() - used >= 8) {
            std::uint32_t len = get_u32(bytes.data() + used + 4);
            if (len > max_data_len) return false;
            if (bytes.size() - used < 8 + len) break;
            on_frame(fd, get_u32(bytes.data() + used), bytes.substr(used + 8, len));
            used += 8 + len;
        }
        // on_frame never closes fd, so `in` is still this connection's buffer.
        std::string rest(bytes.substr(used));
        conns_[fd].in = std::move(rest);
        return true;
    }

    void on_frame(int fd, std::uint32_t msg_id, std::string_view data) {
        auto& conn = conns_[fd];
        if ((msg_id == join_id || msg_id == say_id) && conn.uid.empty())
            return refuse(fd, msg_id, "unauthenticated");
        switch (msg_id) {
            case login_id:
                conn.uid = data;
                return reply(fd, login_id, "welcome " + conn.uid);
            case join_id:
                return join(fd, std::string(data));
            case set_id:
                return set_value(fd, data);
            case say_id:
                return say(fd, data);
            default:
                return refuse(fd, msg_id, "no_route");
        }
    }

    void join(int fd, std::string room) {
        auto& members = rooms_[room];
        auto& rooms = conns_[fd].rooms;
        if (std::find(rooms.begin(), rooms.end(), room) == rooms.end()) {
            members.push_back(fd);
            rooms.push_back(room);
        }
        reply(fd, join_id, "joined " + room + ": " + std::to_string(members.size()) + " members");
    }

    void set_value(int fd, std::string_view data) {
        auto space = data.find(' ');
        std::string key(data.substr(0, space));
        std::string value(space == data.npos ? "" : data.substr(space + 1));
        auto& values = conns_[fd].values;
        auto it = std::find_if(values.begin(), values.end(),
                               [&](const auto& entry) { return entry.first == key; });
        if (it == values.end())
            values.emplace_back(key, value);
        else
            it->second = value;
        reply(fd, set_id, key + "=" + value);
    }

    // One frame for the whole room, queued by reference to every member.
    void say(int fd, std::string_view data) {
        auto space = data.find(' ');
        std::string room(data.substr(0, space));
        std::string_view text = space == data.npos ? "" : data.substr(space + 1);
        const auto& rooms = conns_[fd].rooms;  // a handful: cheaper than the room's members
        if (std::find(rooms.begin(), rooms.end(), room) == rooms.end())
            return refuse(fd, say_id, "not_member");
        std::string payload;
        payload.reserve(room.size() + conns_[fd].uid.size() + text.size() + 3);
        payload.append(room).append(" ").append(conns_[fd].uid).append(": ").append(text);
        Frame* frame = make_frame(say_id, payload);
        for (int member : rooms_[room]) queue(member, frame);
    }

    void refuse(int fd, std::uint32_t msg_id, std::string_view code) {
        std::string json = "{\"msg_id\":" + std::to_string(msg_id) + ",\"code\":\"";
        json.append(code).append("\",\"message\":\"refused by the ceiling\"}");
        queue(fd, make_frame(error_id, json));
    }

    void reply(int fd, std::uint32_t msg_id, const std::string& payload) {
        queue(fd, make_frame(msg_id, payload));
    }

    void queue(int fd, Frame* frame) {
        auto& conn = conns_[fd];
        ++frame->refs;
        conn.queue.push_back(frame);
        if (!conn.dirty && !conn.watching_out) {
            conn.dirty = true;
            dirty_.push_back(fd);
        }
    }

    // One writev per socket per wake-up, whatever was queued on it.
    void flush_dirty() {
        for (int fd : dirty_) {
            conns_[fd].dirty = false;
            if (conns_[fd].open) write(fd);
        }
        dirty_.clear();
    }

    // Writes as much of the queue as the kernel takes; false when the connection was closed.
    bool write(int fd) {
        auto& conn = conns_[fd];
        std::size_t count = std::min<std::size_t>(conn.queue.size(), IOV_MAX);
        for (std::size_t i = 0; i < count; ++i) {
            const auto& bytes = conn.queue[i]->bytes;
            std::size_t skip = i == 0 ? conn.written : 0;
            iov_[i] = {const_cast<char*>(bytes.data()) + skip, bytes.size() - skip};
        }
        ssize_t sent = ::writev(fd, iov_, static_cast<int>(count));
        if (sent < 0 && errno != EAGAIN && errno != EINTR) {
            close_connection(fd);
            return false;
        }
        consume(conn, static_cast<std::size_t>(std::max<ssize_t>(sent, 0)));
        set_watching_out(fd, !conn.queue.empty());
        return true;
    }

    // Drops the frames a write sent whole; remembers how far into the next one it got.
    static void consume(Conn& conn, std::size_t sent) {
        std::size_t done = 0;
        sent += conn.written;
        while (done < conn.queue.size() && sent >= conn.queue[done]->bytes.size()) {
            sent -= conn.queue[done]->bytes.size();
            release(conn.queue[done++]);
        }
        conn.queue.erase(conn.queue.begin(), conn.queue.begin() + static_cast<long>(done));
        conn.written = sent;
    }

    // A socket the kernel would not take everything from waits for EPOLLOUT, not a wake-up.
    void set_watching_out(int fd, bool on) {
        auto& conn = conns_[fd];
        if (conn.watching_out == on) return;
        conn.watching_out = on;
        watch(EPOLL_CTL_MOD, fd, on ? (EPOLLIN | EPOLLOUT) : EPOLLIN);
    }

    int listen_fd_;
    int epoll_fd_;
    std::vector<Conn> conns_;  // by fd
    std::unordered_map<std::string, std::vector<int>> rooms_;
    std::vector<int> dirty_;
    iovec iov_[IOV_MAX];
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
            std::fprintf(stderr, "usage: dinx-fanout-ceiling [--host H] [--port P]\n");
            return 2;
        }
    }
    if (argc % 2 == 0) {
        std::fprintf(stderr, "usage: dinx-fanout-ceiling [--host H] [--port P]\n");
        return 2;
    }
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
    std::signal(SIGPIPE, SIG_IGN);  // writev has no MSG_NOSIGNAL
    raise_fd_limit();
    FanoutServer server(listen_on(host, port));
    server.run();
    return 0;
}
