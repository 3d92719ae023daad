#include "node/websocket_handshake.hpp"

#include "node/websocket_layer.hpp"

#include <openssl/evp.h>
#include <openssl/sha.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <string>

namespace dinx::node {
namespace {

// RFC 6455 section 1.3: appended to the client's key before hashing.
constexpr std::string_view accept_guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

// The longest path quoted in a reason: the reason reaches logs, the path comes from anyone.
constexpr std::size_t max_quoted_path = 100;

bool is_token_char(char c) {
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
    return std::string_view{"!#$%&'*+-.^_`|~"}.find(c) != std::string_view::npos;
}

bool is_token(std::string_view text) {
    return !text.empty() && std::all_of(text.begin(), text.end(), is_token_char);
}

bool equal_nocase(std::string_view a, std::string_view b) {
    auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                              [&](char x, char y) { return lower(x) == lower(y); });
}

std::string_view trim(std::string_view text) {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
    return text;
}

// Calls `each` on every trimmed item of a comma list until it returns true.
template <class Each>
bool any_item(std::string_view list, Each&& each) {
    while (true) {
        auto comma = list.find(',');
        if (each(trim(list.substr(0, comma)))) return true;
        if (comma == std::string_view::npos) return false;
        list.remove_prefix(comma + 1);
    }
}

bool parse_request_line(std::string_view line, HttpRequestHead& head) {
    auto first = line.find(' ');
    auto second = line.find(' ', first == std::string_view::npos ? first : first + 1);
    if (second == std::string_view::npos || line.find(' ', second + 1) != std::string_view::npos)
        return false;
    head.method = line.substr(0, first);
    head.target = line.substr(first + 1, second - first - 1);
    head.version = line.substr(second + 1);
    auto v = head.version;
    bool version_ok = v.size() == 8 && v.starts_with("HTTP/") && v[6] == '.' &&
                      std::isdigit(static_cast<unsigned char>(v[5])) &&
                      std::isdigit(static_cast<unsigned char>(v[7]));
    return is_token(head.method) && !head.target.empty() && version_ok;
}

bool parse_field(std::string_view line, HttpRequestHead& head) {
    // A line starting with a space continues the last (obsolete folding): refused, RFC 9112.
    auto colon = line.find(':');
    if (colon == std::string_view::npos || !is_token(line.substr(0, colon))) return false;
    head.fields.push_back({line.substr(0, colon), trim(line.substr(colon + 1))});
    return true;
}

std::string quoted_path(std::string_view path) {
    if (path.size() <= max_quoted_path) return std::string{path};
    return std::string{path.substr(0, max_quoted_path)} + "...";
}

std::string http_answer(std::string_view status, std::string_view headers,
                        std::string_view content_type, std::string_view body, bool with_body) {
    std::string out = "HTTP/1.1 ";
    out.append(status).append("\r\nContent-Type: ").append(content_type);
    out.append("\r\nContent-Length: ").append(std::to_string(body.size()));
    out.append("\r\nConnection: close\r\n").append(headers).append("\r\n");
    if (with_body) out.append(body);
    return out;
}

// An HTTP error: a line of plain text, then the connection ends.
HandshakeAnswer refuse(std::string_view status, std::string reason, std::string_view violation,
                       std::string_view headers = {}) {
    std::string body = std::string{status.substr(4)} + "\n";
    return {http_answer(status, headers, "text/plain; charset=utf-8", body, true), false,
            std::move(reason), violation};
}

HandshakeAnswer answer_plain(const HttpRequestHead& head, const WebSocketOptions& options) {
    auto path = head.path();
    bool head_only = head.method == "HEAD";
    if (head.method != "GET" && !head_only)
        return refuse("405 Method Not Allowed", "method " + quoted_path(head.method) + " refused",
                      "sent an unsupported HTTP method", "Allow: GET, HEAD\r\n");
    if (options.pages) {
        if (auto page = options.pages->find(path); page != options.pages->end()) {
            auto& [type, body] = page->second;
            return {http_answer("200 OK", "Cache-Control: no-store\r\n", type, body, !head_only),
                    false,
                    "served page " + quoted_path(path),
                    {}};
        }
    }
    if (path == options.path)
        return refuse("426 Upgrade Required", "plain request to the WebSocket path",
                      "sent a bad WebSocket handshake",
                      "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n");
    return refuse("404 Not Found", "no page at " + quoted_path(path), {});
}

bool origin_allowed(const HttpRequestHead& head, const WebSocketOptions& options) {
    if (options.allowed_origins.empty()) return true;
    auto origin = head.field("Origin");
    return origin && head.count("Origin") == 1 &&
           std::find(options.allowed_origins.begin(), options.allowed_origins.end(), *origin) !=
               options.allowed_origins.end();
}

// Why a request is not a well-formed RFC 6455 upgrade, or empty when it is one.
std::string_view upgrade_flaw(const HttpRequestHead& head) {
    if (head.method != "GET") return "method is not GET";
    if (head.version != "HTTP/1.1") return "not HTTP/1.1";
    if (head.count("Host") != 1) return "no Host";
    if (!head.has_token("Connection", "upgrade")) return "no Connection: upgrade";
    return {};
}

HandshakeAnswer answer_upgrade(const HttpRequestHead& head, const WebSocketOptions& options) {
    constexpr std::string_view bad = "sent a bad WebSocket handshake";
    if (head.path() != options.path)
        return refuse("404 Not Found", "no WebSocket at " + quoted_path(head.path()),
                      "asked to upgrade an unknown path");
    if (auto flaw = upgrade_flaw(head); !flaw.empty())
        return refuse("400 Bad Request", "bad WebSocket handshake: " + std::string{flaw}, bad);
    if (head.count("Sec-WebSocket-Version") != 1 || head.field("Sec-WebSocket-Version") != "13")
        return refuse("426 Upgrade Required", "WebSocket version is not 13",
                      "sent an unsupported WebSocket version", "Sec-WebSocket-Version: 13\r\n");
    auto key = head.field("Sec-WebSocket-Key");
    if (head.count("Sec-WebSocket-Key") != 1 || !is_websocket_key(*key))
        return refuse("400 Bad Request", "bad WebSocket handshake: bad Sec-WebSocket-Key", bad);
    if (!origin_allowed(head, options))
        return refuse("403 Forbidden", "Origin not allowed", "sent a forbidden Origin");
    std::string out = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n";
    out.append("Connection: Upgrade\r\nSec-WebSocket-Accept: ").append(websocket_accept(*key));
    if (!options.subprotocol.empty() &&
        head.has_item("Sec-WebSocket-Protocol", options.subprotocol))
        out.append("\r\nSec-WebSocket-Protocol: ").append(options.subprotocol);
    out.append("\r\n\r\n");
    return {std::move(out), true, {}, {}};
}

}  // namespace

std::string_view HttpRequestHead::path() const {
    return target.substr(0, target.find('?'));
}

std::size_t HttpRequestHead::count(std::string_view name) const {
    return std::count_if(fields.begin(), fields.end(),
                         [&](const HttpField& f) { return equal_nocase(f.name, name); });
}

std::optional<std::string_view> HttpRequestHead::field(std::string_view name) const {
    for (const auto& f : fields)
        if (equal_nocase(f.name, name)) return f.value;
    return std::nullopt;
}

bool HttpRequestHead::has_token(std::string_view name, std::string_view token) const {
    return std::any_of(fields.begin(), fields.end(), [&](const HttpField& f) {
        return equal_nocase(f.name, name) &&
               any_item(f.value, [&](std::string_view item) { return equal_nocase(item, token); });
    });
}

bool HttpRequestHead::has_item(std::string_view name, std::string_view wanted) const {
    return std::any_of(fields.begin(), fields.end(), [&](const HttpField& f) {
        return equal_nocase(f.name, name) &&
               any_item(f.value, [&](std::string_view item) { return item == wanted; });
    });
}

std::size_t find_head_end(std::string_view text, std::size_t from) {
    // A line ends with LF, CR LF accepted as well (RFC 9112 section 2.2 allows a bare LF).
    for (auto at = text.find('\n', from); at != std::string_view::npos;
         at = text.find('\n', at + 1)) {
        auto next = text.substr(at + 1, 2);
        if (next.starts_with('\n')) return at + 2;
        if (next == "\r\n") return at + 3;
    }
    return 0;
}

bool has_forbidden_byte(std::string_view text) {
    return std::any_of(text.begin(), text.end(), [](char c) {
        auto byte = static_cast<unsigned char>(c);
        return (byte < 0x20 && c != '\r' && c != '\n' && c != '\t') || byte == 0x7f;
    });
}

std::optional<HttpRequestHead> parse_request_head(std::string_view text) {
    HttpRequestHead head;
    bool first = true;
    while (!text.empty()) {
        auto end = text.find('\n');
        if (end == std::string_view::npos) return std::nullopt;  // no empty line at the end
        auto line = text.substr(0, end);
        text.remove_prefix(end + 1);
        if (line.ends_with('\r')) line.remove_suffix(1);
        if (line.find('\r') != std::string_view::npos) return std::nullopt;
        if (line.empty()) return first || !text.empty() ? std::nullopt : std::optional{head};
        if (!(first ? parse_request_line(line, head) : parse_field(line, head)))
            return std::nullopt;
        first = false;
    }
    return std::nullopt;
}

bool is_websocket_key(std::string_view key) {
    // 16 bytes are 22 base64 digits and "==".
    auto digit = [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/';
    };
    return key.size() == 24 && key.ends_with("==") &&
           std::all_of(key.begin(), key.begin() + 22, digit);
}

std::string websocket_accept(std::string_view key) {
    std::string text{key};
    text.append(accept_guid);
    std::array<unsigned char, SHA_DIGEST_LENGTH> digest{};
    SHA1(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest.data());
    std::array<unsigned char, 4 * ((SHA_DIGEST_LENGTH + 2) / 3) + 1> encoded{};
    int length = EVP_EncodeBlock(encoded.data(), digest.data(), SHA_DIGEST_LENGTH);
    return {reinterpret_cast<const char*>(encoded.data()), static_cast<std::size_t>(length)};
}

HandshakeAnswer answer_handshake(std::string_view head, const WebSocketOptions& options) {
    auto parsed = parse_request_head(head);
    if (!parsed) return answer_malformed_head();
    // Upgrade: websocket makes it a WebSocket attempt, held to RFC 6455's rules; anything else
    // is a plain request (on the WebSocket path, answered 426 naming the upgrade).
    if (!parsed->has_token("Upgrade", "websocket")) return answer_plain(*parsed, options);
    return answer_upgrade(*parsed, options);
}

HandshakeAnswer answer_oversized_head(std::size_t limit) {
    return refuse("431 Request Header Fields Too Large",
                  "request head over " + std::to_string(limit) + " bytes",
                  "sent an HTTP request head over the size limit");
}

HandshakeAnswer answer_malformed_head() {
    return refuse("400 Bad Request", "malformed HTTP request", "sent a malformed HTTP request");
}

}  // namespace dinx::node
