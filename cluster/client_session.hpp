#pragma once
// The gate-side state of one player connection: its id and the uid bound to it.

#include "cluster/envelope.hpp"
#include "cluster/route_pin.hpp"
#include "node/connection.hpp"

#include <chrono>
#include <vector>

namespace dinx::cluster {

class NodeShard;

/// A client connection on a frontend. Its frames are client messages, never envelopes.
class ClientSession final : public node::Connection {
public:
    /// A connected client socket with the id the gate gave it.
    ClientSession(NodeShard& shard, node::Socket socket, node::ConnectionLimits limits,
                  std::uint64_t conn_id);

    /// Unique within this gate for the life of the process.
    std::uint64_t conn_id() const { return conn_id_; }
    /// The bound user id; empty while not logged in.
    const std::string& uid() const { return uid_; }
    /// Binds (or with an empty string unbinds) the user id.
    void set_uid(std::string uid) { uid_ = std::move(uid); }
    /// One idle-check tick: closes the client when it sent nothing for `silent_limit` ticks.
    void idle_tick(int silent_limit, std::chrono::milliseconds tick);
    /// True when idle_tick() closed it: players leave that way all the time, it is no news.
    bool closed_for_idleness() const { return closed_for_idleness_; }
    /// The pin of this client's requests to `group`, made on first use.
    RoutePin& pin_for(const Group* group);
    /// The pin of `group`, or nullptr.
    RoutePin* find_pin(const Group* group);
    /// The client as envelopes name it.
    Origin origin() const;
    /// Notes what the client sent up to now (a drain begins): those bytes are owed an answer.
    void mark_owed_bytes() { owed_until_ = bytes_read() + unread_bytes(); }
    /// True once every byte noted by mark_owed_bytes() was read, or the client is gone.
    bool read_owed_bytes() const { return !is_open() || bytes_read() >= owed_until_; }

protected:
    bool on_frame(std::uint32_t msg_id, Bytes payload) override;
    void on_closed() override;

private:
    NodeShard& shard_;
    std::uint64_t conn_id_;
    std::string uid_;
    std::uint64_t owed_until_ = 0;  // see mark_owed_bytes()
    int silent_ticks_ = 0;
    bool closed_for_idleness_ = false;
    std::vector<RoutePin> pins_;  // one per group this client sent to
};

}  // namespace dinx::cluster
