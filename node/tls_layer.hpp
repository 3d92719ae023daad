#pragma once
// TLS as a wire layer: OpenSSL driven through two memory BIOs, bytes in and bytes out, no I/O.
// The transport keeps reading by readiness into its per-thread scratch and hands the bytes here;
// an idle connection keeps no record buffers (SSL_MODE_RELEASE_BUFFERS) and no BIO buffers
// (each is emptied and its buffer released before a call returns).
//
// OpenSSL's headers stay out of this one: applications include node headers.

#include "node/wire_layer.hpp"

#include <memory>
#include <stdexcept>
#include <string>

struct ssl_st;
struct ssl_ctx_st;

namespace dinx::node {

/// A TLS context that cannot be built: names the file and OpenSSL's reason.
class TlsError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// The settings shared by the connections of one listener or one dialer (an SSL_CTX): created
/// once, then only read, so any thread may make layers from it.
class TlsContext {
public:
    /// A server context from a PEM certificate chain (leaf first) and its PEM private key.
    /// Throws TlsError naming the file that is missing, unreadable, not PEM, or mismatched.
    static std::shared_ptr<TlsContext> server(const std::string& cert_file,
                                              const std::string& key_file);
    /// A client context. With a `ca_file`, the server's chain must lead to one of its PEM
    /// certificates and name `server_name` (a DNS name or an IP address); with "" nothing is
    /// verified (demo and tests only). `server_name` is also sent as SNI when it is a DNS name.
    static std::shared_ptr<TlsContext> client(const std::string& ca_file, std::string server_name);

    TlsContext(const TlsContext&) = delete;
    TlsContext& operator=(const TlsContext&) = delete;
    ~TlsContext();

    /// The OpenSSL context, for TlsLayer.
    ssl_ctx_st* native() const { return ctx_; }
    /// The name a client sends as SNI ("" for none: servers, IP addresses).
    const std::string& sni_name() const { return sni_name_; }

private:
    TlsContext(ssl_ctx_st* ctx, std::string sni_name);

    ssl_ctx_st* ctx_;
    std::string sni_name_;
};

/// Which side of the handshake a layer plays.
enum class TlsRole { server, client };

/// One connection's TLS: records in, plaintext up; plaintext down, records out.
///
/// A client-role layer speaks first: the transport calls start() once after connecting and
/// sends what it appended (the ClientHello). A wrap_out() on a client that was not started
/// starts it, so a transport that simply flushes its queue works too. A server-role layer waits
/// for the peer's ClientHello in take_in().
class TlsLayer final : public WireLayer {
public:
    /// A layer for one connection; `context` must hold a certificate for the server role.
    TlsLayer(std::shared_ptr<TlsContext> context, TlsRole role);
    ~TlsLayer() override;
    TlsLayer(const TlsLayer&) = delete;
    TlsLayer& operator=(const TlsLayer&) = delete;

    /// Client role: appends the ClientHello to `wire`. Does nothing on later calls or for the
    /// server role.
    void start(ByteBuffer& wire);
    /// start(): what a client sends first, for callers that only know the WireLayer interface.
    void open(ByteBuffer& wire) override { start(wire); }

    /// Takes TLS records read from below; plaintext goes to `up`, handshake records, alerts,
    /// close_notify and the records of plaintext kept until the handshake ended go to `reply`.
    /// With an ending verdict `up` may still hold what the peer sent before its close_notify.
    LayerVerdict take_in(Bytes wire, ByteBuffer& up, ByteBuffer& reply) override;
    /// Appends the records carrying `up`; before the handshake is done the bytes are kept and
    /// their records come out of the take_in() that completes it. Dropped once the layer ended.
    void wrap_out(Bytes up, ByteBuffer& wire) override;
    /// Appends our close_notify, once, after a completed handshake.
    void say_goodbye(ByteBuffer& wire) override;
    /// True once the handshake completed, until the layer ended.
    bool handshake_done() const override;
    /// An estimate of what OpenSSL and this layer hold: a measured constant for an idle
    /// connection (see tls_layer.cpp), more during the handshake or with a record half read.
    std::size_t held_bytes() const override;
    /// "tls".
    std::string_view name() const override { return "tls"; }

private:
    LayerVerdict drive(ByteBuffer& up, ByteBuffer& reply);
    LayerVerdict handshake_failed(ByteBuffer& reply);
    LayerVerdict read_all(ByteBuffer& up, ByteBuffer& reply);
    LayerVerdict end(std::string reason, std::string_view violation, ByteBuffer& reply);
    bool feed(Bytes wire);
    bool write_records(Bytes plain, ByteBuffer& wire);
    void drain(ByteBuffer& wire);

    std::shared_ptr<TlsContext> context_;
    ssl_st* ssl_ = nullptr;  // owns the two memory BIOs: records in, records out
    TlsRole role_;
    bool started_ = false;
    bool ended_ = false;
    std::string end_reason_;
    ByteBuffer early_;  // plaintext handed down before the handshake completed
};

/// Makes a server-role TLS layer for each connection a listener accepts.
class TlsLayerFactory : public WireLayerFactory {
public:
    /// A factory whose layers share `context` and play `role` (a listener's are servers, a
    /// dialer's clients).
    explicit TlsLayerFactory(std::shared_ptr<TlsContext> context, TlsRole role = TlsRole::server)
        : context_(std::move(context)), role_(role) {}
    /// A layer of the factory's role.
    std::unique_ptr<WireLayer> make() const override;

private:
    std::shared_ptr<TlsContext> context_;
    TlsRole role_;
};

}  // namespace dinx::node
