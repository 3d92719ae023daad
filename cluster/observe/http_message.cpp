#include "cluster/observe/http_message.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace dinx::cluster {
namespace {

// A token (a method, a header name): visible ASCII without separators.
bool is_token(std::string_view text) {
    constexpr std::string_view separators = "()<>@,;:\\\"/[]?={} \t";
    return !text.empty() && std::ranges::all_of(text, [&](char c) {
        return c > 32 && c < 127 && separators.find(c) == std::string_view::npos;
    });
}

// A request target in origin form: starts with '/', visible ASCII only.
bool is_target(std::string_view text) {
    return !text.empty() && text[0] == '/' &&
           std::ranges::all_of(text, [](char c) { return c > 32 && c < 127; });
}

// "Name: value": a token, a colon, and no control characters but tabs.
bool is_header_line(std::string_view line) {
    auto colon = line.find(':');
    if (colon == std::string_view::npos || !is_token(line.substr(0, colon))) return false;
    return std::ranges::none_of(line.substr(colon + 1), [](char c) {
        auto byte = static_cast<unsigned char>(c);
        return (byte < 32 && c != '\t') || byte == 127;
    });
}

std::string_view reason_phrase(int status) {
    switch (status) {
        case 200:
            return "OK";
        case 400:
            return "Bad Request";
        case 404:
            return "Not Found";
        case 405:
            return "Method Not Allowed";
        case 431:
            return "Request Header Fields Too Large";
        case 503:
            return "Service Unavailable";
    }
    return "Error";
}

}  // namespace

std::optional<HttpRequest> parse_http_request(std::string_view head) {
    auto end = head.find("\r\n");
    auto line = head.substr(0, end);
    auto first = line.find(' ');
    auto second = first == std::string_view::npos ? first : line.find(' ', first + 1);
    if (second == std::string_view::npos) return std::nullopt;
    auto method = line.substr(0, first);
    auto target = line.substr(first + 1, second - first - 1);
    auto version = line.substr(second + 1);
    if (!is_token(method) || !is_target(target)) return std::nullopt;
    if (version != "HTTP/1.1" && version != "HTTP/1.0") return std::nullopt;
    // The header lines only need the right shape: nothing in them changes the answer.
    while (end != std::string_view::npos) {
        auto start = end + 2;
        end = head.find("\r\n", start);
        auto header = head.substr(start, end == std::string_view::npos ? end : end - start);
        if (header.empty() && end == std::string_view::npos) break;  // (a trailing CRLF)
        if (!is_header_line(header)) return std::nullopt;
    }
    return HttpRequest{std::string(method), std::string(target.substr(0, target.find('?')))};
}

std::string http_response(int status, std::string_view content_type, std::string_view body,
                          bool head_only, std::string_view extra) {
    auto response = fmt::format(
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n{}\r\n",
        status, reason_phrase(status), content_type, body.size(), extra);
    if (!head_only) response += body;
    return response;
}

}  // namespace dinx::cluster
