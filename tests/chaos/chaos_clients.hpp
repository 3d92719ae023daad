#pragma once
// The players of the chaos test: client connections that keep numbered echo requests in flight
// and check that each request gets exactly one outcome (its reply or an error frame), in order.

#include "node/frame_codec.hpp"

#include <sys/epoll.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace dinx::chaos {

/// What the clients saw, summed over all of them.
struct ClientTally {
    std::uint64_t sent = 0;                       ///< requests sent
    std::uint64_t replies = 0;                    ///< echo replies with the expected seq
    std::map<std::string, std::uint64_t> errors;  ///< error frames by code
    std::uint64_t duplicates = 0;    ///< a reply for a request that already had its outcome
    std::uint64_t out_of_order = 0;  ///< a reply that overtook an earlier request
    std::uint64_t unexpected = 0;  ///< frames that are neither (wrong msgID, no request in flight)
    std::uint64_t lost = 0;        ///< requests with no outcome at the end
    std::uint64_t closed = 0;      ///< connections a gate closed
    /// Error frames of all codes.
    std::uint64_t error_total() const;
};

/// N connections spread over the gates, each keeping `depth` echo requests in flight.
class ChaosClients {
public:
    /// Connects `count` clients, client i to gate_ports[i % size].
    ChaosClients(const std::vector<std::uint16_t>& gate_ports, int count, int depth,
                 std::uint32_t echo_msg_id, std::uint32_t error_msg_id);
    ~ChaosClients();

    /// Fills every connection's window of requests.
    void start();
    /// Handles what arrived within `timeout_ms`; sends a new request for each outcome unless
    /// stopped.
    void poll(int timeout_ms);
    /// Sends no more requests; what is in flight still counts.
    void stop_sending() { sending_ = false; }
    /// Requests sent and not answered yet.
    std::uint64_t in_flight() const;
    /// The tally so far (lost = in_flight() once everything has had its chance).
    ClientTally tally() const;

private:
    struct Client {
        int fd = -1;
        node::FrameReader reader{1 << 20};
        ByteBuffer out;
        std::uint64_t next_seq = 0;  // of the next request
        std::uint64_t expected = 0;  // seq of the oldest request without an outcome
        bool open = true;
    };

    void on_frame(Client& client, std::uint32_t msg_id, Bytes payload);
    void on_error_frame(Client& client, Bytes payload);
    void send_request(Client& client);
    void read(Client& client);
    void flush(Client& client);
    void close(Client& client);

    std::vector<Client> clients_;
    int epoll_fd_;
    int depth_;
    std::uint32_t echo_msg_id_;
    std::uint32_t error_msg_id_;
    bool sending_ = true;
    ClientTally tally_;
};

}  // namespace dinx::chaos
