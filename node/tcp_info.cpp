#include "node/tcp_info.hpp"

// linux/tcp.h, not netinet/tcp.h: glibc's tcp_info stops before tcpi_bytes_acked. The two
// headers cannot share a file, so this one stands alone.
#include <linux/tcp.h>
#include <netinet/in.h>
#include <sys/socket.h>

namespace dinx::node {

std::optional<std::uint64_t> tcp_bytes_acked(int fd) {
    tcp_info info{};
    socklen_t size = sizeof info;
    if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &size) != 0) return std::nullopt;
    // Kernels older than 4.2 fill a shorter struct without the field.
    if (size < offsetof(tcp_info, tcpi_bytes_acked) + sizeof info.tcpi_bytes_acked)
        return std::nullopt;
    return info.tcpi_bytes_acked;
}

}  // namespace dinx::node
