#include "node/tls_layer.hpp"

#include <openssl/bio.h>
#include <openssl/buffer.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <new>

namespace dinx::node {
namespace {

// Heap an idle server connection holds after its handshake and some traffic: the SSL object
// (about 9 KiB from SSL_new alone), its session, both cipher states, the two empty BIOs and this
// layer. Measured by tests/tls_layer_test.cpp with mallinfo2 over 1000 connections (OpenSSL
// 3.0.19, x86-64, TLS 1.3, P-256 certificate); OpenSSL's record buffers are gone by then.
constexpr std::size_t idle_bytes = 15 * 1024;
// What a server adds while its handshake is under way (record buffers, transcript, key share,
// the handshake message buffer), measured the same way after it answered a ClientHello.
constexpr std::size_t handshake_bytes = 32 * 1024;
// What a record half read adds: OpenSSL's read buffer, released once the record is complete.
constexpr std::size_t partial_record_bytes = 17 * 1024;
// Plaintext per SSL_write: one full record, so the write BIO never holds more than one.
constexpr std::size_t record_plain_bytes = 16 * 1024;
// BIO_write takes an int.
constexpr std::size_t max_bio_write = 1 << 30;

// SSL_read decrypts into this, and only what it produced is appended to the caller's buffer: a
// buffer grown by a whole record for every read would keep that capacity on every connection.
thread_local std::array<std::byte, record_plain_bytes> plain_scratch;

// OpenSSL reports failures in a per-thread queue that SSL_get_error also reads: it must be empty
// before each call and is emptied after, or one connection's error shows up as another's.
struct ErrorQueueScope {
    ErrorQueueScope() { ERR_clear_error(); }
    ~ErrorQueueScope() { ERR_clear_error(); }
};

// The reason of the oldest queued error (the root cause; later ones only say who called).
std::string openssl_reason() {
    unsigned long code = ERR_peek_error();
    if (code == 0) return "unknown error";
    // OpenSSL 3's decoders say only "unsupported" when no decoder understood the bytes.
    if (ERR_GET_LIB(code) == ERR_LIB_OSSL_DECODER && ERR_GET_REASON(code) == ERR_R_UNSUPPORTED)
        return "no key or certificate OpenSSL can decode";
    if (const char* reason = ERR_reason_error_string(code)) return reason;
    char text[256];
    ERR_error_string_n(code, text, sizeof text);
    return text;
}

// True when the oldest error says the file's bytes are not what PEM or DER should be.
bool is_parse_error() {
    int lib = ERR_GET_LIB(ERR_peek_error());
    return lib == ERR_LIB_PEM || lib == ERR_LIB_ASN1 || lib == ERR_LIB_OSSL_DECODER;
}

// Keys behind a pass phrase are refused: OpenSSL's default callback would prompt on the tty.
int no_pass_phrase(char*, int, int, void*) {
    return -1;
}

// Names a file that cannot be opened with the system's words, which OpenSSL's queue loses.
// O_NONBLOCK: a FIFO named by mistake must not hang the process.
void check_readable(const std::string& what, const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) throw TlsError(what + " " + path + ": cannot be read: " + std::strerror(errno));
    struct stat info {};
    bool regular = ::fstat(fd, &info) == 0 && S_ISREG(info.st_mode);
    ::close(fd);
    if (!regular) throw TlsError(what + " " + path + ": cannot be read: not a regular file");
}

// A memory BIO keeps its largest buffer for ever: once drained it gets a fresh empty one, so an
// idle connection holds no BIO bytes (the next write allocates what it needs, as OpenSSL's own
// record buffers do under SSL_MODE_RELEASE_BUFFERS).
void release_drained(BIO* bio) {
    BUF_MEM* memory = nullptr;
    BIO_get_mem_ptr(bio, &memory);
    if (!memory || memory->max == 0 || BIO_ctrl_pending(bio) != 0) return;
    if (BUF_MEM* empty = BUF_MEM_new()) BIO_set_mem_buf(bio, empty, BIO_CLOSE);
}

[[noreturn]] void fail(const std::string& what, const std::string& path, const char* problem) {
    throw TlsError(what + " " + path + ": " + problem + ": " + openssl_reason());
}

using ContextPtr = std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)>;

// The settings both roles share. TLS_method() lets a context serve either role.
ContextPtr new_context() {
    ContextPtr ctx{SSL_CTX_new(TLS_method()), &SSL_CTX_free};
    if (!ctx) throw TlsError("tls: cannot create a context: " + openssl_reason());
    SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
    SSL_CTX_set_options(ctx.get(), SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
    // Idle connections keep no record buffers.
    SSL_CTX_set_mode(ctx.get(), SSL_MODE_RELEASE_BUFFERS);
    // Sessions resume by ticket; a shared server-side cache would only grow and take a lock.
    SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_OFF);
    SSL_CTX_set_default_passwd_cb(ctx.get(), no_pass_phrase);
    return ctx;
}

void load_certificate(SSL_CTX* ctx, const std::string& cert_file) {
    check_readable("tls certificate", cert_file);
    if (SSL_CTX_use_certificate_chain_file(ctx, cert_file.c_str()) == 1) return;
    if (is_parse_error()) fail("tls certificate", cert_file, "is not a PEM certificate");
    fail("tls certificate", cert_file, "cannot be used");
}

void load_key(SSL_CTX* ctx, const std::string& key_file, const std::string& cert_file) {
    check_readable("tls key", key_file);
    // A key of the certificate's type but another pair fails here already (OpenSSL compares).
    bool loaded = SSL_CTX_use_PrivateKey_file(ctx, key_file.c_str(), SSL_FILETYPE_PEM) == 1;
    if (!loaded && ERR_GET_REASON(ERR_peek_error()) == ERR_R_INTERRUPTED_OR_CANCELLED)
        throw TlsError("tls key " + key_file +
                       ": is encrypted, and pass phrases are not supported");
    if (!loaded && is_parse_error()) fail("tls key", key_file, "is not a PEM private key");
    if (!loaded && ERR_GET_LIB(ERR_peek_error()) != ERR_LIB_X509)
        fail("tls key", key_file, "cannot be used");
    if (loaded && SSL_CTX_check_private_key(ctx) == 1) return;
    throw TlsError("tls key " + key_file + " does not match the certificate " + cert_file);
}

}  // namespace

TlsContext::TlsContext(ssl_ctx_st* ctx, std::string sni_name)
    : ctx_(ctx), sni_name_(std::move(sni_name)) {}

TlsContext::~TlsContext() {
    SSL_CTX_free(ctx_);
}

std::shared_ptr<TlsContext> TlsContext::server(const std::string& cert_file,
                                               const std::string& key_file) {
    ErrorQueueScope errors;
    ContextPtr ctx = new_context();
    load_certificate(ctx.get(), cert_file);
    load_key(ctx.get(), key_file, cert_file);
    return std::shared_ptr<TlsContext>(new TlsContext(ctx.release(), {}));
}

std::shared_ptr<TlsContext> TlsContext::client(const std::string& ca_file,
                                               std::string server_name) {
    ErrorQueueScope errors;
    ContextPtr ctx = new_context();
    // An IP address is checked against the certificate's IP entries and never sent as SNI.
    X509_VERIFY_PARAM* param = SSL_CTX_get0_param(ctx.get());
    bool is_ip = !server_name.empty() && X509_VERIFY_PARAM_set1_ip_asc(param, server_name.c_str());
    ERR_clear_error();
    if (!ca_file.empty()) {
        check_readable("tls ca file", ca_file);
        if (SSL_CTX_load_verify_locations(ctx.get(), ca_file.c_str(), nullptr) != 1)
            fail("tls ca file", ca_file, "holds no PEM certificate");
        if (!is_ip && !server_name.empty())
            X509_VERIFY_PARAM_set1_host(param, server_name.data(), server_name.size());
        SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
    }
    if (is_ip) server_name.clear();
    return std::shared_ptr<TlsContext>(new TlsContext(ctx.release(), std::move(server_name)));
}

TlsLayer::TlsLayer(std::shared_ptr<TlsContext> context, TlsRole role)
    : context_(std::move(context)), role_(role) {
    ErrorQueueScope errors;
    ssl_ = SSL_new(context_->native());
    BIO* in = BIO_new(BIO_s_mem());
    BIO* out = BIO_new(BIO_s_mem());
    if (!ssl_ || !in || !out) {
        BIO_free(in);
        BIO_free(out);
        SSL_free(ssl_);
        throw std::bad_alloc();
    }
    // An empty memory BIO must say "retry" (OpenSSL then wants more bytes), not end of file.
    BIO_set_mem_eof_return(in, -1);
    BIO_set_mem_eof_return(out, -1);
    SSL_set_bio(ssl_, in, out);
    if (role_ == TlsRole::server) {
        SSL_set_accept_state(ssl_);
        return;
    }
    SSL_set_connect_state(ssl_);
    if (!context_->sni_name().empty()) SSL_set_tlsext_host_name(ssl_, context_->sni_name().c_str());
}

TlsLayer::~TlsLayer() {
    SSL_free(ssl_);
}

void TlsLayer::start(ByteBuffer& wire) {
    if (role_ != TlsRole::client || started_ || ended_) return;
    ErrorQueueScope errors;
    started_ = true;
    SSL_do_handshake(ssl_);  // writes the ClientHello, then wants the server's answer
    drain(wire);
}

LayerVerdict TlsLayer::take_in(Bytes wire, ByteBuffer& up, ByteBuffer& reply) {
    // The transport closes on the first ending verdict; bytes after it change nothing.
    if (ended_) return LayerVerdict::end(end_reason_);
    ErrorQueueScope errors;
    if (!feed(wire)) return end("tls: out of memory", {}, reply);
    LayerVerdict verdict = drive(up, reply);
    release_drained(SSL_get_rbio(ssl_));
    return verdict;
}

bool TlsLayer::feed(Bytes wire) {
    BIO* in = SSL_get_rbio(ssl_);
    while (!wire.empty()) {
        int n = int(std::min(wire.size(), max_bio_write));
        if (BIO_write(in, wire.data(), n) != n) return false;
        wire = wire.subspan(std::size_t(n));
    }
    return true;
}

LayerVerdict TlsLayer::drive(ByteBuffer& up, ByteBuffer& reply) {
    started_ = true;
    if (!SSL_is_init_finished(ssl_)) {
        int done = SSL_do_handshake(ssl_);
        if (done != 1 && SSL_get_error(ssl_, done) == SSL_ERROR_WANT_READ) {
            drain(reply);
            return LayerVerdict::go_on();
        }
        if (done != 1) return handshake_failed(reply);
        // Our last handshake records go first, then what was kept while waiting.
        drain(reply);
        bool written = write_records(early_, reply);
        ByteBuffer{}.swap(early_);
        if (!written) return end("tls error: " + openssl_reason(), {}, reply);
    }
    return read_all(up, reply);
}

// The handshake failed: says why, adding the certificate check's own words when that was it.
LayerVerdict TlsLayer::handshake_failed(ByteBuffer& reply) {
    std::string reason = "tls handshake failed: " + openssl_reason();
    unsigned long code = ERR_peek_error();
    if (ERR_GET_LIB(code) == ERR_LIB_SSL &&
        ERR_GET_REASON(code) == SSL_R_CERTIFICATE_VERIFY_FAILED) {
        reason += std::string(": ") + X509_verify_cert_error_string(SSL_get_verify_result(ssl_));
    }
    return end(std::move(reason), "failed the TLS handshake", reply);
}

LayerVerdict TlsLayer::read_all(ByteBuffer& up, ByteBuffer& reply) {
    for (;;) {
        int n = SSL_read(ssl_, plain_scratch.data(), int(plain_scratch.size()));
        if (n > 0) {
            append(up, Bytes{plain_scratch.data(), std::size_t(n)});
            continue;
        }
        switch (SSL_get_error(ssl_, n)) {
            case SSL_ERROR_WANT_READ:
                drain(reply);  // a TLS 1.3 KeyUpdate answer, if the peer asked for one
                return LayerVerdict::go_on();
            case SSL_ERROR_ZERO_RETURN:
                if (!(SSL_get_shutdown(ssl_) & SSL_SENT_SHUTDOWN)) SSL_shutdown(ssl_);
                return end("peer closed (tls)", {}, reply);
            default:
                return end("tls error: " + openssl_reason(), "sent bad TLS records", reply);
        }
    }
}

LayerVerdict TlsLayer::end(std::string reason, std::string_view violation, ByteBuffer& reply) {
    drain(reply);  // an alert or our close_notify
    ended_ = true;
    end_reason_ = reason;
    ByteBuffer{}.swap(early_);
    return LayerVerdict::end(std::move(reason), violation);
}

void TlsLayer::wrap_out(Bytes up, ByteBuffer& wire) {
    if (ended_ || up.empty()) return;
    ErrorQueueScope errors;
    if (!SSL_is_init_finished(ssl_)) {
        start(wire);
        append(early_, up);
        return;
    }
    // A failed write means we said goodbye or the peer broke the stream: take_in reports the
    // latter, and nothing more may be sent after the former.
    write_records(up, wire);
}

bool TlsLayer::write_records(Bytes plain, ByteBuffer& wire) {
    while (!plain.empty()) {
        std::size_t n = std::min(plain.size(), record_plain_bytes);
        bool written = SSL_write(ssl_, plain.data(), int(n)) > 0;
        drain(wire);  // after each record, so the write BIO holds at most one
        if (!written) return false;
        plain = plain.subspan(n);
    }
    return true;
}

void TlsLayer::say_goodbye(ByteBuffer& wire) {
    if (ended_ || !SSL_is_init_finished(ssl_)) return;
    if (SSL_get_shutdown(ssl_) & SSL_SENT_SHUTDOWN) return;
    ErrorQueueScope errors;
    SSL_shutdown(ssl_);
    drain(wire);
}

void TlsLayer::drain(ByteBuffer& wire) {
    BIO* out = SSL_get_wbio(ssl_);
    std::size_t pending = BIO_ctrl_pending(out);
    if (pending == 0) return;
    std::size_t old = wire.size();
    wire.resize(old + pending);
    std::size_t got = 0;
    BIO_read_ex(out, wire.data() + old, pending, &got);
    wire.resize(old + got);
    release_drained(out);
}

bool TlsLayer::handshake_done() const {
    return !ended_ && SSL_is_init_finished(ssl_);
}

std::size_t TlsLayer::held_bytes() const {
    std::size_t held = idle_bytes + early_.capacity();
    if (!SSL_is_init_finished(ssl_)) return held + handshake_bytes;
    return held + (SSL_has_pending(ssl_) ? partial_record_bytes : 0);
}

std::unique_ptr<WireLayer> TlsLayerFactory::make() const {
    return std::make_unique<TlsLayer>(context_, role_);
}

}  // namespace dinx::node
