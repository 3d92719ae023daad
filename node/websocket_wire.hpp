#pragma once
// RFC 6455 section 5.2: the bits of a WebSocket frame header, shared by the server layer
// (websocket_layer.cpp) and the client layer (websocket_client_layer.cpp).

#include <cstddef>
#include <cstdint>

namespace dinx::node::websocket_wire {

inline constexpr std::uint8_t op_continuation = 0x0;  ///< a fragment after the first
inline constexpr std::uint8_t op_text = 0x1;          ///< a text message (refused by the gate)
inline constexpr std::uint8_t op_binary = 0x2;        ///< a binary message: whole frames
inline constexpr std::uint8_t op_close = 0x8;         ///< the closing handshake
inline constexpr std::uint8_t op_ping = 0x9;          ///< answered with a pong
inline constexpr std::uint8_t op_pong = 0xa;          ///< a ping's answer

inline constexpr std::uint8_t fin_bit = 0x80;   ///< the last frame of a message
inline constexpr std::uint8_t rsv_bits = 0x70;  ///< extension bits; none is negotiated
inline constexpr std::uint8_t mask_bit = 0x80;  ///< set on every client frame, on no server one
/// The largest payload of a control frame (ping, pong, close).
inline constexpr std::size_t max_control_payload = 125;

}  // namespace dinx::node::websocket_wire
