#include "support/scrape.hpp"

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

namespace dinx::test {
namespace {

using Clock = std::chrono::steady_clock;

int connect_loopback(std::uint16_t port) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

// `series` (name{labels}) has label `name` with `value` (not merely a label ending in `name`).
bool has_label(std::string_view series, std::string_view name, std::string_view value) {
    auto wanted = std::string(name) + "=\"" + std::string(value) + "\"";
    for (auto at = series.find(wanted); at != std::string_view::npos;
         at = series.find(wanted, at + 1))
        if (at > 0 && (series[at - 1] == '{' || series[at - 1] == ',')) return true;
    return false;
}

}  // namespace

HttpExchange http_exchange(std::uint16_t port, std::string_view request,
                           std::chrono::milliseconds timeout) {
    HttpExchange exchange;
    auto start = Clock::now();
    int fd = connect_loopback(port);
    REQUIRE_MESSAGE(fd >= 0, "cannot connect to port ", port);
    // A server that closes early may refuse the rest of a big request: that is its answer.
    for (std::size_t sent = 0; sent < request.size();) {
        auto n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
        if (n <= 0) break;
        sent += static_cast<std::size_t>(n);
    }
    char buffer[16384];
    for (;;) {
        auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(start + timeout - Clock::now());
        pollfd wait{fd, POLLIN, 0};
        if (left.count() <= 0 || ::poll(&wait, 1, static_cast<int>(left.count())) <= 0) break;
        auto n = ::recv(fd, buffer, sizeof buffer, 0);
        if (n <= 0) {  // EOF, or a reset: closed either way
            exchange.closed = true;
            break;
        }
        exchange.received.append(buffer, static_cast<std::size_t>(n));
    }
    ::close(fd);
    exchange.took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
    return exchange;
}

std::string scrape(std::uint16_t port) {
    auto exchange = http_exchange(port, "GET /metrics HTTP/1.1\r\nHost: test\r\n\r\n");
    CHECK_MESSAGE(exchange.received.starts_with("HTTP/1.1 200 OK\r\n"),
                  exchange.received.substr(0, 200));
    auto body = exchange.received.find("\r\n\r\n");
    return body == std::string::npos ? std::string{} : exchange.received.substr(body + 4);
}

std::optional<double> sample_value(
    std::string_view text, std::string_view name,
    std::initializer_list<std::pair<std::string_view, std::string_view>> labels) {
    for (std::size_t at = 0; at < text.size();) {
        auto end = text.find('\n', at);
        if (end == std::string_view::npos) end = text.size();
        auto line = text.substr(at, end - at);
        at = end + 1;
        if (line.empty() || line[0] == '#' || !line.starts_with(name)) continue;
        auto rest = line.substr(name.size());
        if (!rest.starts_with('{') && !rest.starts_with(' ')) continue;  // a longer name
        auto space = line.rfind(' ');
        auto series = line.substr(0, space);
        bool all = true;
        for (const auto& [label, value] : labels) all = all && has_label(series, label, value);
        if (all) return std::stod(std::string(line.substr(space + 1)));
    }
    return std::nullopt;
}

}  // namespace dinx::test
