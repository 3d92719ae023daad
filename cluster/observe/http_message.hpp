#pragma once
// The little HTTP/1.x the metrics endpoint speaks: it reads one request head and answers it
// with one response, then closes. Only the request line matters (GET or HEAD, a path); header
// lines are checked for shape and otherwise ignored.

#include <optional>
#include <string>
#include <string_view>

namespace dinx::cluster {

/// The request line of a request head.
struct HttpRequest {
    std::string method;  ///< "GET", ...
    std::string path;    ///< the target without its query string
};

/// Reads a request head (its lines up to, not including, the empty line that ends it);
/// nullopt when it is not an HTTP/1.0 or 1.1 request.
std::optional<HttpRequest> parse_http_request(std::string_view head);

/// A response with `status` (200, 404, ...), `content_type` and `body`; the body left out
/// (its length still given) when `head_only`. `extra` holds more header lines, each ending in
/// CRLF. Every response closes the connection.
std::string http_response(int status, std::string_view content_type, std::string_view body,
                          bool head_only = false, std::string_view extra = {});

}  // namespace dinx::cluster
