#pragma once
// The client connections of dinx-fanout: N members on one epoll set, spread round-robin over
// one or more server ports (one per gate), each with its frame reader and send buffer.

#include "node/bytes.hpp"
#include "node/frame_codec.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace dinx::bench {

/// Where the members connect.
struct Endpoints {
    std::string host = "127.0.0.1";    ///< server address
    std::vector<std::uint16_t> ports;  ///< member i connects to ports[i % ports.size()]
    std::uint32_t sources = 1;         ///< > 1: from 127.0.0.1..N, so ephemeral ports last
};

/// What receives the frames of Members::poll.
class FrameSink {
public:
    virtual ~FrameSink() = default;
    /// A whole frame `member` received; `data` is valid during the call only.
    virtual void on_frame(std::uint32_t member, std::uint32_t msg_id, Bytes data) = 0;
    /// The server closed `member` (or sent it an oversized frame).
    virtual void on_closed(std::uint32_t member) = 0;
};

/// N connected members. Single-threaded: one poll at a time.
class Members {
public:
    /// Connects `count` members (at most 512 handshakes at a time); throws on the first failure.
    Members(const Endpoints& endpoints, std::uint32_t count);
    ~Members();
    Members(const Members&) = delete;
    Members& operator=(const Members&) = delete;

    /// The number of members.
    std::uint32_t size() const { return static_cast<std::uint32_t>(members_.size()); }
    /// False once the server closed the member.
    bool is_open(std::uint32_t member) const { return members_[member].open; }
    /// Queues a frame; it is written at the end of the current or next poll.
    void send(std::uint32_t member, std::uint32_t msg_id, Bytes payload);
    /// Waits up to `timeout_ms` for readable members, hands every frame they got to `sink`,
    /// then writes every member with frames queued, one send each.
    void poll(FrameSink& sink, int timeout_ms);
    /// Writes what send() queued without waiting for anything to read.
    void flush();
    /// Members whose connection the server has closed, checked without reading.
    std::size_t count_dropped() const;

private:
    /// One member's socket.
    struct Member {
        int fd = -1;
        node::FrameReader reader{1u << 20};
        ByteBuffer out;  // frames not yet written
        bool dirty = false;
        bool watching_out = false;
        bool open = true;
    };

    void connect_all(const Endpoints& endpoints, std::uint32_t count);
    void close_all();
    void read(std::uint32_t index, FrameSink& sink);
    void write(std::uint32_t index);
    void close(std::uint32_t index, FrameSink& sink);
    void watch_out(std::uint32_t index, bool on);

    int epoll_fd_;
    std::vector<Member> members_;
    std::vector<std::uint32_t> dirty_;
    std::vector<std::byte> buffer_;
};

/// Raises the soft open-file limit to the hard one; throws when `needed` files do not fit.
void raise_fd_limit(std::size_t needed);

}  // namespace dinx::bench
