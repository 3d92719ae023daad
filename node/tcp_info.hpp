#pragma once
// What the kernel knows of a TCP connection that the socket API does not say.

#include <cstdint>
#include <optional>

namespace dinx::node {

/// Bytes of data the peer's TCP acknowledged on socket `fd` (Linux TCP_INFO); nullopt when
/// unknown. Bytes beyond it surely never reached the peer, even after a reset.
std::optional<std::uint64_t> tcp_bytes_acked(int fd);

}  // namespace dinx::node
