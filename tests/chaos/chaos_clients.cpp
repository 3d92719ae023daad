#include "tests/chaos/chaos_clients.hpp"

#include "node/blocking_client.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace dinx::chaos {
namespace {

constexpr std::size_t payload_size = 24;  // seq, client index, padding

int connect_to(std::uint16_t port) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0)
        throw std::runtime_error("cannot connect to a gate on port " + std::to_string(port) + ": " +
                                 std::strerror(errno));
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

// The error code of an error frame's JSON payload: {"msg_id": N, "code": "...", ...}.
std::string error_code_of(Bytes payload) {
    auto text = as_text(payload);
    auto key = text.find("\"code\": \"");
    if (key == std::string_view::npos) return "malformed";
    auto begin = key + 9;
    auto end = text.find('"', begin);
    return std::string(text.substr(begin, end - begin));
}

}  // namespace

std::uint64_t ClientTally::error_total() const {
    std::uint64_t total = 0;
    for (const auto& [code, count] : errors) total += count;
    return total;
}

ChaosClients::ChaosClients(const std::vector<std::uint16_t>& gate_ports, int count, int depth,
                           std::uint32_t echo_msg_id, std::uint32_t error_msg_id)
    : clients_(static_cast<std::size_t>(count)),
      epoll_fd_(::epoll_create1(EPOLL_CLOEXEC)),
      depth_(depth),
      echo_msg_id_(echo_msg_id),
      error_msg_id_(error_msg_id) {
    for (std::size_t i = 0; i < clients_.size(); ++i) {
        clients_[i].fd = connect_to(gate_ports[i % gate_ports.size()]);
        epoll_event event{};
        event.events = EPOLLIN | EPOLLRDHUP;
        event.data.u64 = i;
        ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, clients_[i].fd, &event);
    }
}

ChaosClients::~ChaosClients() {
    for (auto& client : clients_)
        if (client.open) ::close(client.fd);
    ::close(epoll_fd_);
}

void ChaosClients::start() {
    for (auto& client : clients_) {
        for (int d = 0; d < depth_; ++d) send_request(client);
        flush(client);
    }
}

void ChaosClients::poll(int timeout_ms) {
    epoll_event events[256];
    int n = ::epoll_wait(epoll_fd_, events, 256, timeout_ms);
    for (int i = 0; i < n; ++i) {
        auto& client = clients_[events[i].data.u64];
        if (client.open) read(client);
        if (client.open) flush(client);
    }
}

void ChaosClients::read(Client& client) {
    std::byte buffer[64 * 1024];
    while (client.open) {
        ssize_t got = ::recv(client.fd, buffer, sizeof buffer, 0);
        if (got < 0 && (errno == EAGAIN || errno == EINTR)) return;
        if (got <= 0) {
            close(client);
            return;
        }
        client.reader.feed(Bytes{buffer, static_cast<std::size_t>(got)},
                           [&](std::uint32_t id, Bytes payload) {
                               on_frame(client, id, payload);
                               return true;
                           });
    }
}

void ChaosClients::on_frame(Client& client, std::uint32_t msg_id, Bytes payload) {
    if (msg_id == error_msg_id_) {
        on_error_frame(client, payload);
    } else if (msg_id != echo_msg_id_ || payload.size() != payload_size) {
        ++tally_.unexpected;
        return;
    } else {
        std::uint64_t seq;
        std::memcpy(&seq, payload.data(), sizeof seq);
        if (seq < client.expected) {
            ++tally_.duplicates;  // its outcome came already
            return;
        }
        if (seq > client.expected) ++tally_.out_of_order;  // an earlier one was overtaken
        ++tally_.replies;
        client.expected = seq + 1;
    }
    if (sending_) send_request(client);
}

// An error frame carries no seq: in a correct cluster it is the outcome of the oldest request
// without one (outcomes come in order), which is what counting it so checks.
void ChaosClients::on_error_frame(Client& client, Bytes payload) {
    if (client.expected >= client.next_seq) {
        ++tally_.unexpected;
        return;
    }
    ++tally_.errors[error_code_of(payload)];
    ++client.expected;
}

void ChaosClients::send_request(Client& client) {
    std::byte payload[payload_size]{};
    std::uint64_t seq = client.next_seq++;
    std::uint64_t index = static_cast<std::uint64_t>(&client - clients_.data());
    std::memcpy(payload, &seq, sizeof seq);
    std::memcpy(payload + 8, &index, sizeof index);
    node::append_frame(client.out, echo_msg_id_, Bytes{payload, payload_size});
    ++tally_.sent;
}

void ChaosClients::flush(Client& client) {
    while (!client.out.empty()) {
        ssize_t sent = ::send(client.fd, client.out.data(), client.out.size(), MSG_NOSIGNAL);
        if (sent < 0) {
            if (errno != EAGAIN) close(client);
            return;  // the gate will read; we retry on the next wake-up
        }
        client.out.erase(client.out.begin(), client.out.begin() + sent);
    }
}

void ChaosClients::close(Client& client) {
    client.open = false;
    ++tally_.closed;
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, client.fd, nullptr);
    ::close(client.fd);
}

std::uint64_t ChaosClients::in_flight() const {
    std::uint64_t total = 0;
    for (const auto& client : clients_) total += client.next_seq - client.expected;
    return total;
}

ClientTally ChaosClients::tally() const {
    ClientTally tally = tally_;
    tally.lost = in_flight();
    return tally;
}

}  // namespace dinx::chaos
