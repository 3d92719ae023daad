#pragma once
// Who a message is about: the client, where it is connected and who it logged in as.

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

namespace dinx::cluster {

/// Largest uid a session may bind; longer ones are refused (they ride in every request).
inline constexpr std::size_t max_uid_size = 255;

/// Throws std::length_error when `uid` is longer than max_uid_size.
inline void require_uid_size(std::string_view uid) {
    if (uid.size() > max_uid_size)
        throw std::length_error("a uid is at most " + std::to_string(max_uid_size) + " bytes");
}

/// The client a message concerns.
struct Origin {
    std::uint32_t gate_id = 0;  ///< node id of the frontend holding the connection
    std::uint64_t conn_id = 0;  ///< connection id, unique within that frontend
    std::string uid;            ///< bound user id, empty when not logged in
};

}  // namespace dinx::cluster
