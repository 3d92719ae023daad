#include "support/fake_node.hpp"

#include "cluster/link/envelope.hpp"
#include "cluster/link/link_auth.hpp"
#include "cluster/link/link_handshake.hpp"
#include "node/frame_codec.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <stdexcept>

namespace dinx::test {
namespace {

// Waits for `fd` to be readable in slices, so that the destructor's stop flag is seen.
bool wait_readable(int fd, const std::atomic<bool>& stopping) {
    while (!stopping) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 20) > 0) return true;
    }
    return false;
}

}  // namespace

FakeNode::FakeNode(std::uint32_t node_id, Mode mode) : node_id_(node_id), mode_(mode) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (mode_ == Mode::stop_reading) {
        // A small receive window (inherited by the accepted socket) fills up soon.
        int small = 4096;
        ::setsockopt(listen_fd_, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    }
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof address;
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), len) != 0 ||
        ::listen(listen_fd_, 8) != 0 ||
        ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&address), &len) != 0)
        throw std::runtime_error("fake node cannot listen");
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] { serve(); });
}

FakeNode::~FakeNode() {
    stopping_ = true;
    drop();
    thread_.join();
    ::close(listen_fd_);
}

void FakeNode::serve() {
    if (!wait_readable(listen_fd_, stopping_)) return;
    int fd = ::accept(listen_fd_, nullptr, nullptr);
    link_fd_ = fd;
    node::FrameReader reader(1 << 20);
    std::array<std::byte, 65536> buffer;
    while (!(linked_ && mode_ == Mode::stop_reading) && wait_readable(fd, stopping_)) {
        auto n = ::recv(fd, buffer.data(), buffer.size(), 0);
        if (n <= 0) break;
        reader.feed(Bytes{buffer.data(), static_cast<std::size_t>(n)},
                    [&](std::uint32_t kind, Bytes body) {
                        on_frame(fd, kind, body);
                        return true;
                    });
    }
    if (linked_ && mode_ == Mode::stop_reading) {
        std::unique_lock lock(mutex_);
        arrived_.wait(lock, [&] { return stopping_ || link_fd_ < 0; });
    }
    ::close(fd);
}

void FakeNode::on_frame(int fd, std::uint32_t kind, Bytes body) {
    using cluster::EnvelopeKind;
    if (mode_ == Mode::silent) return;
    auto envelope = cluster::read_envelope(kind, body);
    if (!envelope) return;
    if (envelope->kind == EnvelopeKind::hello) {
        // Plays the accepting side of the handshake with the test cluster's (empty) secret, as a
        // node of this release: the hello is the dialer's offer then its nonce; the challenge is
        // our offer, our nonce and our proof over both offers.
        if (envelope->payload.size() != cluster::link_offer_size + cluster::auth_size) return;
        dialer_ = envelope->via;
        dialer_offer_ = cluster::link_offer_at(envelope->payload, 0);
        dialer_nonce_ = cluster::auth_bytes_at(envelope->payload, cluster::link_offer_size);
        auto offer = cluster::current_link_offer;
        auto nonce = cluster::random_nonce();
        ByteBuffer payload;
        cluster::append_link_offer(payload, offer);
        append(payload, nonce);
        append(payload, cluster::link_proof(secret_, cluster::LinkSide::acceptor, dialer_, node_id_,
                                            dialer_offer_, offer, dialer_nonce_, nonce));
        send_envelope(fd, EnvelopeKind::challenge, payload);
    } else if (envelope->kind == EnvelopeKind::proof) {
        send_envelope(fd, EnvelopeKind::hello_ack, {});
        linked_ = true;
    } else if (envelope->kind == EnvelopeKind::request) {
        std::lock_guard lock(mutex_);
        ++requests_;
        envelope->payload = {};
        unanswered_.push_back(*envelope);
        arrived_.notify_all();
    } else if (envelope->kind == EnvelopeKind::leaving) {
        std::lock_guard lock(mutex_);
        ++leavings_;
        arrived_.notify_all();
    } else if (envelope->kind == EnvelopeKind::leaving_ack) {
        std::lock_guard lock(mutex_);
        ++leaving_acks_;
        arrived_.notify_all();
    }
}

void FakeNode::send_envelope(int fd, cluster::EnvelopeKind kind, Bytes payload) {
    send_envelope(fd, cluster::Envelope{kind, 0, {}, 0, node_id_, payload});
}

void FakeNode::send_envelope(int fd, const cluster::Envelope& envelope) {
    ByteBuffer body, frame;
    cluster::write_envelope(body, envelope);
    node::append_frame(frame, std::uint32_t(envelope.kind), body);
    (void)!::send(fd, frame.data(), frame.size(), MSG_NOSIGNAL);
}

void FakeNode::send_leaving() {
    int fd = link_fd_;
    if (fd >= 0) send_envelope(fd, cluster::EnvelopeKind::leaving, {});
}

bool FakeNode::wait_for_leaving_ack(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    return arrived_.wait_for(lock, timeout, [&] { return leaving_acks_ > 0; });
}

bool FakeNode::wait_for_leaving(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    return arrived_.wait_for(lock, timeout, [&] { return leavings_ > 0; });
}

void FakeNode::reply_all(const std::string& text, int times) {
    std::vector<cluster::Envelope> requests;
    {
        std::lock_guard lock(mutex_);
        requests.swap(unanswered_);
    }
    int fd = link_fd_;
    for (auto& request : requests) {
        cluster::Envelope reply{cluster::EnvelopeKind::to_client,
                                request.seq,
                                request.origin,
                                request.msg_id,
                                0,
                                as_bytes(text)};
        for (int i = 0; i < times && fd >= 0; ++i) send_envelope(fd, reply);
    }
}

bool FakeNode::wait_for_requests(std::size_t count, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    return arrived_.wait_for(lock, timeout, [&] { return requests_ >= count; });
}

void FakeNode::drop() {
    int fd = link_fd_.exchange(-1);
    if (fd >= 0) ::shutdown(fd, SHUT_RDWR);
    std::lock_guard lock(mutex_);
    arrived_.notify_all();
}

}  // namespace dinx::test
