#pragma once
// Who a message is about: the client, where it is connected and who it logged in as.

#include <cstddef>
#include <cstdint>
#include <string>

namespace dinx::cluster {

/// Largest uid a session may bind; longer ones are refused (they ride in every request).
inline constexpr std::size_t max_uid_size = 255;

/// The client a message concerns.
struct Origin {
    std::uint32_t gate_id = 0;  ///< node id of the frontend holding the connection
    std::uint64_t conn_id = 0;  ///< connection id, unique within that frontend
    std::string uid;            ///< bound user id, empty when not logged in
};

}  // namespace dinx::cluster
