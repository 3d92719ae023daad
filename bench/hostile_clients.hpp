#pragma once
// The connections of dinx-hostile: one epoll loop drives all of them.

#include <cstdint>
#include <string>

namespace dinx::bench {

/// Command-line settings of dinx-hostile.
struct HostileOptions {
    std::string host = "127.0.0.1";
    std::uint16_t port = 0;
    std::string mode;
    std::uint32_t clients = 4;
    std::uint32_t size = 64 * 1024;
    std::uint32_t msg_id = 6;
    double duration_s = 5;  ///< 0: until SIGTERM or SIGINT
    std::string login;      ///< non-empty: pipeline, readless and broadcast connections log in
};

/// Runs the attack and prints its summary line; 0 unless it could not start.
int run_hostile(const HostileOptions& options);

}  // namespace dinx::bench
