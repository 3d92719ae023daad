#pragma once
// Process limits a server with many connections needs raised.

#include <cstdint>

namespace dinx::node {

/// Raises the open-file soft limit to the hard limit (every connection is a file) and returns
/// the soft limit now in force.
std::uint64_t raise_open_file_limit();

}  // namespace dinx::node
