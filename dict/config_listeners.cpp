// The client listeners of a frontend beside its `port`: `[[gate.listeners]]` tables, each a TCP
// or WebSocket listener with its framing and, optionally, TLS.

#include "dict/config_reader.hpp"

#include <algorithm>
#include <array>
#include <optional>

namespace dinx::dict::detail {

namespace {

constexpr std::array<std::string_view, 9> listener_keys{"port",     "protocol",    "framing",
                                                        "tls_cert", "tls_key",     "path",
                                                        "origins",  "subprotocol", "web_root"};

// Keys only a WebSocket listener takes: on a TCP one they would be silently meaningless.
constexpr std::array<std::string_view, 4> websocket_keys{"path", "origins", "subprotocol",
                                                         "web_root"};

ListenerProtocol read_protocol(const TableReader& reader) {
    const toml::node* value = reader.find("protocol");
    if (value == nullptr) return ListenerProtocol::tcp;
    std::optional<std::string_view> text = value->value<std::string_view>();
    if (text == "tcp") return ListenerProtocol::tcp;
    if (text == "websocket") return ListenerProtocol::websocket;
    reader.fail(line_of(value->source()), R"('protocol' must be "tcp" or "websocket")");
}

/// A framing name: a word, checked against the registered formats when the node starts.
std::string read_framing(const TableReader& reader) {
    const toml::node* value = reader.find("framing");
    if (value == nullptr) return "tlv";
    std::string name = reader.printable_text(*value, "framing", true);
    return name;
}

void read_tls(ListenerInfo& listener, const TableReader& reader) {
    const toml::node* cert = reader.find("tls_cert");
    const toml::node* key = reader.find("tls_key");
    if (cert == nullptr && key == nullptr) return;
    if (cert == nullptr || key == nullptr) {
        const toml::node* given = cert != nullptr ? cert : key;
        reader.fail(line_of(given->source()),
                    "'tls_cert' and 'tls_key' go together: a TLS listener needs both");
    }
    listener.tls_cert = reader.printable_text(*cert, "tls_cert", true);
    listener.tls_key = reader.printable_text(*key, "tls_key", true);
    listener.tls_line = line_of(cert->source());
}

std::vector<std::string> read_origins(const TableReader& reader) {
    const toml::node* value = reader.find("origins");
    if (value == nullptr) return {};
    constexpr std::string_view shape =
        R"('origins' must be an array of origins (strings), like origins = ["https://game.example"])";
    const toml::array* array = value->as_array();
    if (array == nullptr) reader.fail(line_of(value->source()), std::string(shape));
    std::vector<std::string> origins;
    for (const toml::node& element : *array) {
        if (!element.is_string()) reader.fail(line_of(element.source()), std::string(shape));
        origins.push_back(reader.printable_text(element, "origins", true));
    }
    return origins;
}

void read_websocket_keys(ListenerInfo& listener, const TableReader& reader) {
    if (listener.protocol != ListenerProtocol::websocket) {
        for (std::string_view key : websocket_keys) {
            if (const toml::node* value = reader.find(key))
                reader.fail(line_of(value->source()),
                            "'" + std::string(key) + "' is only for protocol = \"websocket\"");
        }
        return;
    }
    if (const toml::node* path = reader.find("path")) {
        listener.path = reader.printable_text(*path, "path", true);
        if (listener.path.front() != '/' || listener.path.find(' ') != std::string::npos)
            reader.fail(line_of(path->source()), "'path' must start with '/' and hold no space");
    }
    listener.origins = read_origins(reader);
    if (const toml::node* subprotocol = reader.find("subprotocol"))
        listener.subprotocol = reader.printable_text(*subprotocol, "subprotocol", true);
    if (const toml::node* web_root = reader.find("web_root"))
        listener.web_root = reader.printable_text(*web_root, "web_root", true);
}

ListenerInfo read_listener(const toml::table& table, const std::string& file,
                           const NodeInfo& node) {
    TableReader reader(table, file, "a listener of '" + node.name + "'");
    reader.allow_only(listener_keys);
    ListenerInfo listener;
    listener.line = table_line(table);
    listener.port =
        static_cast<std::uint16_t>(reader.integer(reader.require("port"), "port", 0, u16_max));
    listener.port_line = reader.key_line("port");
    listener.protocol = read_protocol(reader);
    listener.framing = read_framing(reader);
    listener.framing_line = reader.key_line("framing");
    read_tls(listener, reader);
    read_websocket_keys(listener, reader);
    return listener;
}

}  // namespace

std::vector<ListenerInfo> read_listeners(const NodeInfo& node, const TableReader& node_reader) {
    const toml::node* value = node_reader.find("listeners");
    if (value == nullptr) return {};
    int line = line_of(value->source());
    if (!node.is_frontend())
        node_reader.fail(line, "'listeners' is only for frontend nodes; backend '" + node.name +
                                   "' holds no client connections");
    const toml::array* array = value->as_array();
    if (array == nullptr || !std::ranges::all_of(*array, &toml::node::is_table))
        node_reader.fail(line, "'listeners' must be an array of tables ([[" + node.group +
                                   ".listeners]] after the node's table)");
    std::vector<ListenerInfo> listeners;
    for (const toml::node& element : *array)
        listeners.push_back(read_listener(*element.as_table(), node_reader.file(), node));
    return listeners;
}

}  // namespace dinx::dict::detail
