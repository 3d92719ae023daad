#pragma once
// Byte views shared by every layer: payloads travel as spans of std::byte.

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace dinx {

/// A read-only view of a payload; valid only during the call that receives it.
using Bytes = std::span<const std::byte>;
/// An owned, growable byte buffer.
using ByteBuffer = std::vector<std::byte>;

/// Views text as payload bytes.
inline Bytes as_bytes(std::string_view text) {
    return {reinterpret_cast<const std::byte*>(text.data()), text.size()};
}

/// Views payload bytes as text (the demo's payloads are UTF-8).
inline std::string_view as_text(Bytes bytes) {
    return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

/// Appends bytes to a buffer.
inline void append(ByteBuffer& out, Bytes bytes) {
    out.insert(out.end(), bytes.begin(), bytes.end());
}

}  // namespace dinx
