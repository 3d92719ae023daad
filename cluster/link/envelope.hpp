#pragma once
// The node-to-node message. One envelope is one TLV frame on a link: the frame's msgID is the
// envelope kind, its data a fixed-layout little-endian header followed by the raw client
// payload, so the payload is never copied into a container on either end.

#include "cluster/api/origin.hpp"
#include "cluster/api/session.hpp"
#include "node/bytes.hpp"

#include <cstdint>
#include <optional>
#include <string>

namespace dinx::cluster {

/// What an envelope asks of the node that receives it.
enum class EnvelopeKind : std::uint32_t {
    /// first frame of a dialed link; `via` = dialer id, payload = its offer (link protocol
    /// version, feature bits) + its nonce
    hello = 1,
    /// acceptor's answer; `via` = its id, payload = its offer + its nonce + its proof
    challenge = 2,
    proof = 3,      ///< dialer's proof that it knows the cluster secret
    hello_ack = 4,  ///< the acceptor checked the proof: the link is up
    request = 5,    ///< run the handler of `msg_id` for `origin`; `seq` numbers it on this link
    /// deliver `msg_id`+payload to client `origin`; `seq` != 0: the answer to that request of
    /// this link, which it finishes (seq 0: a push, or a later reply of a finished request)
    to_client = 6,
    done = 7,       ///< request `seq` of this link is finished (no reply went over this link)
    broadcast = 8,  ///< deliver `msg_id`+payload to every client of the receiving gate
    /// bind `origin.uid` to client `origin` (empty uid unbinds); `seq` != 0: on behalf of that
    /// request of this link, so it travels back the way the request came
    session = 9,
    ping = 10,         ///< heartbeat: the sender is alive (sent when nothing else was)
    leaving = 11,      ///< the sender is draining: send it no new requests
    leaving_ack = 12,  ///< no request will follow this on the link
    /// like to_client with `seq` != 0, but the request is not finished: more answers or a
    /// `done` follow (a forwarded request, whose node may reply more than once)
    answer = 13,
    /// a gate's presence changes (payload: a batch, gate/presence.hpp); `via` = that gate
    presence = 14,
    /// deliver `msg_id` to several clients of the receiving gate (payload: gate/presence.hpp)
    multicast = 15,
    /// close client `origin` if it still holds `origin.uid`, after a kick_msg_id frame; `msg_id`
    /// = the DisconnectReason, payload = the reason's text
    kick = 16,
    /// a session event about client `origin` for a node of a listening group; `msg_id` = the
    /// SessionEventKind | DisconnectReason << 8
    event = 17,
    /// run method `msg_id` for the caller (link protocol 4); `seq` = the caller's call id (0: a
    /// notify, answered by nothing), `via` = the caller's remaining budget in ms, `values` = the
    /// absolute deadline (call_deadline_size bytes), `origin` = the client it is made for
    call = 18,
    /// the outcome of call `seq`; `msg_id` = 0 with the reply as payload, or 1 + CallError with
    /// the failure (rpc/call_wire.hpp) as payload
    call_reply = 19,
};

/// The first link protocol version that carries calls.
inline constexpr std::uint16_t first_call_protocol_version = 4;

/// Largest payload an envelope carries. Replies and pushes to clients may be larger than what
/// clients may send (max_packet_size), so links have their own, larger limit.
inline constexpr std::size_t max_envelope_payload = 16 << 20;

/// Room for an envelope's header (fixed fields, a uid of at most max_uid_size and session
/// values of at most max_session_bytes).
inline constexpr std::size_t max_envelope_header = 64 + max_uid_size + max_session_bytes;

/// A decoded or to-be-encoded envelope. `payload` is a view: into the received frame when
/// decoded, into the sender's bytes when encoding.
struct Envelope {
    EnvelopeKind kind = EnvelopeKind::request;
    std::uint64_t seq = 0;     ///< request number on the link (request, to_client, done)
    Origin origin;             ///< the client concerned
    std::uint32_t msg_id = 0;  ///< client message id
    std::uint32_t via =
        0;  ///< request: node that forwarded it (0 = straight from its gate); hello: sender id
    Bytes payload;  ///< client payload, never parsed by the cluster
    /// request: the client's session values (SessionValues::encoded), a view like payload;
    /// session: unused (the changes are the payload)
    Bytes values{};
};

// The header, written and read in place, little-endian:
//   seq u64 | gate_id u32 | conn_id u64 | msg_id u32 | via u32 | uid size u16 | uid |
//   values size u16 | values
// (the bytes cereal's portable-binary archive wrote for these fields, so links of earlier
// releases read it unchanged).

/// Appends the frame body of `envelope` (header then payload) to `out`. Throws
/// std::length_error, leaving `out` as it was, when the uid, the values or the payload is over
/// its limit.
void write_envelope(ByteBuffer& out, const Envelope& envelope);

/// Decodes a link frame; nullopt when the kind is unknown or the body is malformed or
/// truncated. The payload and the values are views into `body`.
std::optional<Envelope> read_envelope(std::uint32_t frame_msg_id, Bytes body);

}  // namespace dinx::cluster
