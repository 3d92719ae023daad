#pragma once
// What the metrics tests do over a real socket: send raw bytes to an HTTP port and read until the
// server closes, and find one sample's value in a scrape's text.

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace dinx::test {

/// What came back on one connection.
struct HttpExchange {
    std::string received;  ///< every byte the server sent
    bool closed = false;   ///< the server closed the connection (else: the wait ran out)
    std::chrono::milliseconds took{};  ///< from the connect to the close (or the give-up)
};

/// Connects to 127.0.0.1:`port`, sends `request` (as it is) and reads until the server closes
/// or `timeout` passes.
HttpExchange http_exchange(std::uint16_t port, std::string_view request,
                           std::chrono::milliseconds timeout = std::chrono::seconds(5));

/// GET /metrics; the body when the answer is a 200, else a failed check and "".
std::string scrape(std::uint16_t port);

/// The value of the sample of family `name` (its full sample name) whose labels include every
/// one of `labels`; nullopt when there is none.
std::optional<double> sample_value(
    std::string_view text, std::string_view name,
    std::initializer_list<std::pair<std::string_view, std::string_view>> labels = {});

}  // namespace dinx::test
