#pragma once
// What a gate tells every other node about its players, so that any node finds a uid's gate in
// one lookup: binds, unbinds, room joins and leaves, and a reset before a full snapshot.

#include "node/bytes.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace dinx::cluster {

/// One change of a gate's presence.
enum class PresenceOp : std::uint8_t {
    reset = 1,   ///< forget everything this gate said before (a snapshot follows)
    bind = 2,    ///< `uid` is bound on connection `conn_id`, as of `epoch`
    unbind = 3,  ///< `uid` is no longer bound on `conn_id`
    join = 4,    ///< `uid` (on `conn_id`) joined `room`
    leave = 5,   ///< `uid` (on `conn_id`) left `room`
};

/// A change of presence, as it travels in a `presence` envelope.
struct PresenceUpdate {
    PresenceOp op = PresenceOp::reset;  ///< what changed
    std::uint64_t conn_id = 0;          ///< the session's connection on the sending gate
    std::uint64_t epoch = 0;            ///< bind: when it happened (orders logins of a uid)
    std::string uid;                    ///< the player
    std::string room;                   ///< join and leave: the room
};

/// Appends `update` to a batch.
void append_presence(ByteBuffer& batch, const PresenceUpdate& update);
/// The updates of a batch; nullopt when it is malformed.
std::optional<std::vector<PresenceUpdate>> read_presence(Bytes batch);

/// Frames to several clients of one gate: the payload of a `multicast` envelope is the list of
/// connection ids ([count u32][conn id u64]... little-endian) followed by the frame's data.
void append_multicast(ByteBuffer& out, const std::vector<std::uint64_t>& conn_ids, Bytes data);
/// The connection ids and the data of a multicast payload; nullopt when malformed.
std::optional<std::pair<std::vector<std::uint64_t>, Bytes>> read_multicast(Bytes payload);

}  // namespace dinx::cluster
