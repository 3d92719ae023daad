#pragma once
// The HTTP side of a WebSocket connection (RFC 6455 section 4.2): finding and parsing the
// request head, computing the accept key, and choosing the answer. Pure functions on strings,
// so every rule is tested without a layer; WebSocketLayer only buffers bytes and calls them.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dinx::node {

struct WebSocketOptions;

/// One header field of a request, as it appeared (name not case-folded, value trimmed).
struct HttpField {
    std::string_view name;   ///< field name, compared case-insensitively
    std::string_view value;  ///< field value without surrounding spaces and tabs
};

/// A parsed request head; views into the text it was parsed from.
struct HttpRequestHead {
    std::string_view method;        ///< "GET", case-sensitive as HTTP says
    std::string_view target;        ///< request target as sent ("/chat?room=1")
    std::string_view version;       ///< "HTTP/1.1"
    std::vector<HttpField> fields;  ///< every header field, in order

    /// The path of the target, without its query.
    std::string_view path() const;
    /// How many fields have this name (case-insensitive).
    std::size_t count(std::string_view name) const;
    /// The value of the first field with this name, if any.
    std::optional<std::string_view> field(std::string_view name) const;
    /// True when a comma list in any field of this name holds `token` (case-insensitive).
    bool has_token(std::string_view name, std::string_view token) const;
    /// True when a comma list in any field of this name holds `item` exactly.
    bool has_item(std::string_view name, std::string_view item) const;
};

/// Where the head in `text` ends (just after its empty line), or 0 when the empty line has not
/// arrived. `from` is where to start looking: the caller passes what it already searched, less
/// the 2 bytes a line end split across reads may start with.
std::size_t find_head_end(std::string_view text, std::size_t from = 0);
/// True when `text` holds a byte no HTTP head may hold (a control byte other than CR, LF, tab):
/// binary data, such as a TLV client on the wrong port, is refused without waiting for more.
bool has_forbidden_byte(std::string_view text);
/// Parses a whole head (request line, fields, empty line); nullopt when it is malformed.
std::optional<HttpRequestHead> parse_request_head(std::string_view head);

/// True when `key` is base64 of exactly 16 bytes, as Sec-WebSocket-Key must be.
bool is_websocket_key(std::string_view key);
/// base64(SHA-1(key + the RFC 6455 GUID)): the Sec-WebSocket-Accept answering `key`.
std::string websocket_accept(std::string_view key);

/// What the server answers a complete request head.
struct HandshakeAnswer {
    std::string response;        ///< the HTTP answer, ready for the wire
    bool upgraded = false;       ///< 101 sent: WebSocket frames follow
    std::string reason;          ///< why the connection ends (empty when upgraded)
    std::string_view violation;  ///< the rule the client broke (a literal), else empty
};

/// Checks a complete request head against `options` and builds the answer: 101, a static page,
/// or an HTTP error. When the client offers subprotocols and none is ours, the upgrade is still
/// accepted and no Sec-WebSocket-Protocol is echoed (a browser then fails it on its side).
HandshakeAnswer answer_handshake(std::string_view head, const WebSocketOptions& options);
/// The 431 answer to a head that grew over the limit before it ended.
HandshakeAnswer answer_oversized_head(std::size_t limit);
/// The 400 answer to bytes that cannot be an HTTP head.
HandshakeAnswer answer_malformed_head();

}  // namespace dinx::node
