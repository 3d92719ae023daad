#pragma once
// The cluster's node table, route table and settings as plain structs.
// dict knows nothing of sockets: loading and validation live in config_loader.hpp.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dinx::dict {

/// What a node does: a frontend holds client connections, a backend runs game logic.
enum class NodeType { frontend, backend };

/// "frontend" or "backend".
std::string_view to_string(NodeType type);

/// What binding a uid already bound on another session does: a player logging in twice must
/// end up on one session, and which one wins is the game's choice.
enum class LoginPolicy {
    kick_older,   ///< the new session wins; the older one is kicked
    refuse_newer  ///< the older session keeps the uid; the new bind fails
};

/// "kick_older" or "refuse_newer", as written in dinx.toml.
std::string_view to_string(LoginPolicy policy);

/// What a client listener speaks over TCP.
enum class ListenerProtocol {
    tcp,       ///< frames straight on the stream
    websocket  ///< binary WebSocket messages, each carrying whole frames
};

/// "tcp" or "websocket", as written in dinx.toml.
std::string_view to_string(ListenerProtocol protocol);

/// One more client listener of a frontend, beside its `port`: a `[[group.listeners]]` table
/// after the node's table. All of a gate's listeners feed the same sessions, routes and
/// handlers.
struct ListenerInfo {
    ListenerProtocol protocol = ListenerProtocol::tcp;
    std::uint16_t port = 0;
    /// Frame layout: "tlv" (zinx, the default), "ltv" (zinx little-endian) or a format the
    /// application registered in code.
    std::string framing = "tlv";
    /// WebSocket: the path the upgrade must ask for.
    std::string path = "/";
    /// WebSocket: the Origin values a handshake may carry; empty = any (a browser page served
    /// from anywhere may connect).
    std::vector<std::string> origins{};
    /// WebSocket: the subprotocol echoed when a client offers it; "" = none.
    std::string subprotocol;
    /// WebSocket: a directory whose files are served to plain HTTP GETs (the browser demo's
    /// page), as written; "" = none.
    std::string web_root;
    /// TLS: the PEM certificate chain and private key, as written; both "" = no TLS.
    std::string tls_cert;
    std::string tls_key;
    /// The same paths resolved against dinx.toml's directory (filled when loaded from files).
    std::string web_root_path;
    std::string tls_cert_path;
    std::string tls_key_path;
    int line = 0;          ///< line of the listener's table, for error messages
    int port_line = 0;     ///< line of its `port` key
    int framing_line = 0;  ///< line of its `framing` key (0 when absent)
    int tls_line = 0;      ///< line of its `tls_cert` key (0 when absent)

    /// True when clients must speak TLS here.
    bool uses_tls() const { return !tls_cert.empty(); }
};

/// One row of dinx.toml.
struct NodeInfo {
    std::uint32_t id = 0;  ///< unique in the cluster, never 0
    std::string name;      ///< unique human name, also the node's logger name
    std::string group;     ///< the table the node sits in (`gate`, `im`, ...)
    NodeType type = NodeType::backend;
    std::string host;             ///< address the node listens on and peers dial
    std::uint16_t port = 0;       ///< frontends: clients connect here; backends: links connect here
    std::uint16_t link_port = 0;  ///< frontends only: where other nodes' links connect
    int line = 0;                 ///< line of the node's table in dinx.toml, for error messages
    /// Line of the `port` key in dinx.toml, so a port problem points at the key to change;
    /// 0 for nodes built in code.
    int port_line = 0;
    /// Line of the `link_port` key in dinx.toml; 0 for backends (they have none) and for nodes
    /// built in code.
    int link_port_line = 0;
    /// Backends only: handlers and methods may run on every io thread at once (they guard their
    /// own state). false (the default): the node runs on one io thread, so its handlers, calls
    /// and timers never run concurrently. Frontends always use every io thread.
    bool parallel = false;
    /// Frontends only: client listeners beside `port` (WebSocket, TLS, other framings).
    std::vector<ListenerInfo> listeners{};
    /// Where the node serves its admin commands (`dinx-demo ctl`); nullopt = no admin endpoint,
    /// 0 = any free port (one process only).
    std::optional<std::uint16_t> admin_port{};
    /// The address the admin endpoint binds: loopback unless the file says otherwise.
    std::string admin_host = "127.0.0.1";
    /// Where the node serves Prometheus metrics over HTTP (GET /metrics); nullopt = none.
    std::optional<std::uint16_t> metrics_port{};
    /// The address the metrics endpoint binds: loopback unless the file says otherwise.
    std::string metrics_host = "127.0.0.1";
    int admin_port_line = 0;    ///< line of `admin_port` (0 when absent)
    int metrics_port_line = 0;  ///< line of `metrics_port` (0 when absent)

    /// True for frontends (gates).
    bool is_frontend() const { return type == NodeType::frontend; }
    /// The port other nodes dial to open a link to this node.
    std::uint16_t link_endpoint_port() const { return is_frontend() ? link_port : port; }
};

/// One row of route.toml: msg_id is handled by the nodes of `group`.
struct Route {
    std::uint32_t msg_id = 0;
    std::string name;   ///< human name of the message, for logs and docs
    std::string group;  ///< the group whose nodes run the handler
    int line = 0;       ///< line of the route's table in route.toml
};

/// Cluster-wide settings: the reserved `[cluster]` table of dinx.toml.
struct Settings {
    std::uint32_t max_packet_size = 64 * 1024;  ///< largest client dataLen accepted
    std::uint32_t error_msg_id = 0xFFFF'FFFF;   ///< msgID of error frames sent to clients
    std::uint32_t connect_timeout_ms = 2000;    ///< link dial + handshake deadline
    std::uint32_t reconnect_min_ms = 100;       ///< first back-off after a failed dial
    std::uint32_t reconnect_max_ms = 2000;      ///< back-off cap between dials
    std::uint32_t client_send_queue_bytes =
        4 << 20;  ///< a client whose unsent bytes exceed this is disconnected
    std::uint32_t link_queue_limit =
        65536;                     ///< envelopes queued while a link dials; more get `overloaded`
    std::uint32_t io_threads = 0;  ///< io threads per process; 0 = one per core
    std::uint32_t max_connections = 100'000;  ///< clients a frontend holds; more are closed at once
    std::uint32_t heartbeat_interval_ms = 1000;  ///< links ping this often; silent 3x this = dead
    std::uint32_t client_idle_timeout_ms = 60'000;  ///< a client silent this long is disconnected
    std::uint32_t heartbeat_msg_id =
        99'999;  ///< zinx-style client heartbeat: resets the idle timer only
    std::uint32_t link_queue_bytes =
        16 << 20;  ///< unsent bytes on a link beyond which requests get `overloaded`
    std::uint32_t drain_timeout_ms = 3000;  ///< longest graceful stop before connections are cut
    /// Memory a process should stay under; its buffers (send queues, partial frames, held and
    /// queued requests, broadcast frames) may use half of it, past which they are refused
    std::uint32_t memory_budget_bytes = 256u << 20;
    std::uint32_t client_max_in_flight = 128;  ///< a client's requests in flight before pausing
    /// bytes of a client's requests in flight before reading from it pauses
    std::uint32_t client_max_in_flight_bytes = 256 << 10;
    std::uint32_t client_frame_timeout_ms = 5000;  ///< a frame must complete this soon
    /// a new connection must complete its first frame this soon
    std::uint32_t client_first_frame_timeout_ms = 10'000;
    /// a WebSocket upgrade or TLS handshake must be done this soon after connecting
    std::uint32_t client_handshake_timeout_ms = 5000;
    /// who keeps a uid bound on two sessions at once
    LoginPolicy login_policy = LoginPolicy::kick_older;
    /// msgID of the frame a client gets just before the gate closes it for a kick or a newer
    /// login; differs from error_msg_id and heartbeat_msg_id so a client can tell them apart
    std::uint32_t kick_msg_id = 0xFFFF'FFFE;
    /// longest a call between services waits for its reply when the caller gives no timeout
    std::uint32_t call_timeout_ms = 3000;
    /// threads per process that run blocking work (Context::blocking), off the io threads
    std::uint32_t worker_threads = 2;
    std::string secret_file;   ///< as written in dinx.toml, relative to its directory; "" = none
    int secret_file_line = 0;  ///< where secret_file is set, for error messages
    std::string secret;        ///< the cluster secret links prove they know; never logged
    /// The link protocol version this process announces, 0 for the newest it speaks: set by
    /// --link-protocol during a rolling upgrade, never by dinx.toml.
    std::uint16_t link_protocol = 0;
    /// Links over TLS (all three or none), as written: the certificate and key every node
    /// serves its accepted links with, and the CA a dialing node checks them against.
    std::string link_tls_cert;
    std::string link_tls_key;
    std::string link_tls_ca;
    int link_tls_line = 0;  ///< the first of the three keys, for error messages
    /// The same paths resolved against dinx.toml's directory (filled when loaded from files).
    std::string link_tls_cert_path;
    std::string link_tls_key_path;
    std::string link_tls_ca_path;

    /// True when links speak TLS.
    bool links_use_tls() const { return !link_tls_cert.empty(); }
};

/// One group named by route.toml's `[events]` table: its nodes hear session events.
struct EventGroup {
    std::string name;  ///< the group, as written
    int line = 0;      ///< line of the name in route.toml, for error messages; 0 if built in code
};

/// The whole configuration of a cluster: dinx.toml plus route.toml.
struct Config {
    Settings settings;
    std::vector<NodeInfo> nodes;  ///< in file order
    std::vector<Route> routes;    ///< in file order
    /// Groups whose nodes hear session events (connect, bind, disconnect), in file order; empty
    /// when route.toml has no `[events]` table.
    std::vector<EventGroup> event_groups;
    std::string nodes_file = "dinx.toml";    ///< path used in error messages
    std::string routes_file = "route.toml";  ///< path used in error messages
    /// What loading found that works but an operator should fix, each naming file and line;
    /// logged at start.
    std::vector<std::string> warnings;

    /// The node with this id, or nullptr.
    const NodeInfo* find_node(std::uint32_t id) const;
    /// The route of this msgID, or nullptr.
    const Route* find_route(std::uint32_t msg_id) const;
    /// Ids of the nodes of a group, in file order; empty for an unknown group.
    std::vector<std::uint32_t> group_nodes(std::string_view group) const;
};

}  // namespace dinx::dict
