#pragma once
// A link peer driven by the test: it accepts one link, answers (or ignores) the handshake as a
// given node, counts the requests it gets and never answers them, and drops the link on demand.
// It makes "the link dropped with requests in flight" and "the peer never answers" exact.

#include "cluster/link/envelope.hpp"
#include "cluster/link/link_auth.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace dinx::test {

/// A fake node on 127.0.0.1, port 0.
class FakeNode {
public:
    /// How the fake behaves once it accepted the link.
    enum class Mode {
        answer,       ///< completes the handshake, then reads (and counts) requests
        silent,       ///< never answers the handshake
        stop_reading  ///< completes the handshake, then reads nothing more (a stuck peer)
    };
    /// Acts as node `node_id`.
    explicit FakeNode(std::uint32_t node_id, Mode mode = Mode::answer);
    ~FakeNode();
    FakeNode(const FakeNode&) = delete;
    FakeNode& operator=(const FakeNode&) = delete;

    /// Where it listens.
    std::uint16_t port() const { return port_; }
    /// Waits until at least `count` requests arrived; false on timeout.
    bool wait_for_requests(std::size_t count, std::chrono::milliseconds timeout);
    /// Closes the accepted link (the gate sees the peer go away).
    void drop();
    /// Says leaving on the link, as a draining node does.
    void send_leaving();
    /// Waits until the gate acknowledged our leaving; false on timeout.
    bool wait_for_leaving_ack(std::chrono::milliseconds timeout);
    /// Waits until the gate said leaving (it drains); false on timeout. The fake never acks.
    bool wait_for_leaving(std::chrono::milliseconds timeout);
    /// Answers every request received so far with `text` (as a reply that finishes it),
    /// `times` times each (more than once: a buggy or replaying peer).
    void reply_all(const std::string& text, int times = 1);

private:
    void serve();
    void on_frame(int fd, std::uint32_t kind, Bytes body);
    void send_envelope(int fd, cluster::EnvelopeKind kind, Bytes payload);
    void send_envelope(int fd, const cluster::Envelope& envelope);

    std::uint32_t node_id_;
    Mode mode_;
    bool linked_ = false;  // handshake done
    std::string secret_;   // the test cluster's: none
    std::uint32_t dialer_ = 0;
    cluster::LinkOffer dialer_offer_{};
    cluster::AuthBytes dialer_nonce_{};
    int listen_fd_ = -1;
    std::atomic<int> link_fd_{-1};
    std::uint16_t port_ = 0;
    std::atomic<bool> stopping_{false};
    std::mutex mutex_;
    std::condition_variable arrived_;
    std::size_t requests_ = 0;
    std::size_t leaving_acks_ = 0;
    std::size_t leavings_ = 0;
    std::vector<cluster::Envelope> unanswered_;  // payloads dropped: only the header is kept
    std::thread thread_;
};

}  // namespace dinx::test
