#include "cluster/runtime/client_endpoint.hpp"

#include "dict/config_error.hpp"
#include "node/tls_layer.hpp"
#include "node/websocket_layer.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace dinx::cluster {
namespace {

// A web root is a handful of files for a browser client (the demo's chat page), kept in memory
// and served from there; a large or crowded directory is surely not one.
constexpr std::size_t max_page_bytes = 1 << 20;
constexpr std::size_t max_pages = 64;

std::string content_type_of(const std::filesystem::path& file) {
    static const std::pair<std::string_view, std::string_view> types[] = {
        {".html", "text/html; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".json", "application/json"},
        {".svg", "image/svg+xml"},
        {".png", "image/png"},
        {".ico", "image/x-icon"},
        {".txt", "text/plain; charset=utf-8"},
    };
    auto extension = file.extension().string();
    for (auto [ext, type] : types)
        if (extension == ext) return std::string(type);
    return "application/octet-stream";
}

/// Every regular file directly in `dir`, served at "/<name>"; index.html also at "/".
std::shared_ptr<const node::StaticPages> load_pages(const dict::ListenerInfo& listener,
                                                    const dict::Config& config) {
    auto fail = [&](const std::string& problem) -> void {
        throw dict::ConfigError(config.nodes_file, listener.line,
                                "web_root '" + listener.web_root + "': " + problem);
    };
    auto pages = std::make_shared<node::StaticPages>();
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(listener.web_root_path, ec)) {
        if (!entry.is_regular_file(ec)) continue;
        if (pages->size() == max_pages)
            fail("holds more than " + std::to_string(max_pages) +
                 " files; a web root is a browser client's few files");
        if (entry.file_size(ec) > max_page_bytes)
            fail(entry.path().filename().string() + " is larger than 1 MiB");
        std::ifstream in(entry.path(), std::ios::binary);
        std::ostringstream body;
        body << in.rdbuf();
        if (!in) fail("cannot read " + entry.path().filename().string());
        auto name = entry.path().filename().string();
        node::StaticPage page{content_type_of(entry.path()), body.str()};
        if (name == "index.html") (*pages)["/"] = page;
        (*pages)["/" + name] = std::move(page);
    }
    if (ec) fail("cannot be listed: " + ec.message());
    return pages;
}

const node::FrameFormat* find_format(const dict::ListenerInfo& listener, const dict::Config& config,
                                     const HandlerTable& handlers,
                                     std::shared_ptr<const node::FrameFormat>& owned) {
    if (listener.framing == "tlv") return &node::tlv_format();
    if (listener.framing == "ltv") return &node::ltv_format();
    auto it = handlers.framings.find(listener.framing);
    if (it == handlers.framings.end()) {
        std::string known = "\"tlv\", \"ltv\"";
        for (const auto& [name, format] : handlers.framings) known += ", \"" + name + "\"";
        throw dict::ConfigError(config.nodes_file, listener.framing_line,
                                "framing '" + listener.framing + "' is not known (known: " + known +
                                    "; a game registers its own with App::framing)");
    }
    owned = it->second;
    return owned.get();
}

std::shared_ptr<const node::WireLayerFactory> websocket_layers(const dict::ListenerInfo& listener,
                                                               const dict::Config& config) {
    node::WebSocketOptions options;
    options.path = listener.path;
    options.allowed_origins = listener.origins;
    options.subprotocol = listener.subprotocol;
    // Messages only carry frames, which the reader bounds one by one; this bounds one burst.
    options.max_message_bytes =
        std::max<std::uint32_t>(1 << 20, 2 * (config.settings.max_packet_size + 64));
    if (!listener.web_root.empty()) options.pages = load_pages(listener, config);
    return std::make_shared<node::WebSocketLayerFactory>(std::move(options));
}

std::shared_ptr<const node::WireLayerFactory> tls_layers(const dict::ListenerInfo& listener,
                                                         const dict::Config& config) {
    try {
        auto context = node::TlsContext::server(listener.tls_cert_path, listener.tls_key_path);
        return std::make_shared<node::TlsLayerFactory>(std::move(context));
    } catch (const node::TlsError& error) {
        throw dict::ConfigError(config.nodes_file, listener.tls_line, error.what());
    }
}

ClientEndpoint make_endpoint(const dict::ListenerInfo& listener, const dict::Config& config,
                             const HandlerTable& handlers) {
    ClientEndpoint endpoint;
    endpoint.port = listener.port;
    endpoint.format = find_format(listener, config, handlers, endpoint.owned_format);
    bool websocket = listener.protocol == dict::ListenerProtocol::websocket;
    std::shared_ptr<const node::WireLayerFactory> tls;
    if (listener.uses_tls()) tls = tls_layers(listener, config);
    if (websocket) {
        auto ws = websocket_layers(listener, config);
        endpoint.layers = tls ? node::stack_layers(tls, ws) : ws;
    } else {
        endpoint.layers = tls;
    }
    endpoint.kind = std::string(listener.uses_tls() ? "tls+" : "") +
                    std::string(dict::to_string(listener.protocol));
    if (listener.framing != "tlv") endpoint.kind += " (" + listener.framing + ")";
    return endpoint;
}

}  // namespace

LinkLayers make_link_layers(const dict::Config& config) {
    const auto& settings = config.settings;
    if (!settings.links_use_tls()) return {};
    try {
        // Links authenticate each other with the cluster secret (HMAC); TLS adds secrecy, and
        // the dialer checks the chain against the cluster's CA (not a host name: nodes dial
        // each other by the addresses of dinx.toml).
        auto server =
            node::TlsContext::server(settings.link_tls_cert_path, settings.link_tls_key_path);
        auto client = node::TlsContext::client(settings.link_tls_ca_path, "");
        return {std::make_shared<node::TlsLayerFactory>(std::move(server)),
                std::make_shared<node::TlsLayerFactory>(std::move(client), node::TlsRole::client)};
    } catch (const node::TlsError& error) {
        throw dict::ConfigError(config.nodes_file, settings.link_tls_line, error.what());
    }
}

std::vector<ClientEndpoint> make_client_endpoints(const dict::NodeInfo& node,
                                                  const dict::Config& config,
                                                  const HandlerTable& handlers) {
    std::vector<ClientEndpoint> endpoints;
    if (!node.is_frontend()) return endpoints;
    endpoints.push_back({node.port, "tcp", &node::tlv_format(), nullptr, nullptr});
    for (const auto& listener : node.listeners)
        endpoints.push_back(make_endpoint(listener, config, handlers));
    return endpoints;
}

}  // namespace dinx::cluster
