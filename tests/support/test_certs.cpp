#include "tests/support/test_certs.hpp"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdint>
#include <cstdio>
#include <memory>
#include <stdexcept>

namespace dinx::test {
namespace {

template <typename T, void (*Free)(T*)>
struct Deleter {
    void operator()(T* p) const { Free(p); }
};
using KeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using CertPtr = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using ExtPtr = std::unique_ptr<X509_EXTENSION, Deleter<X509_EXTENSION, X509_EXTENSION_free>>;

void require(bool ok, const char* what) {
    if (!ok) throw std::runtime_error(std::string("test certificate: ") + what + " failed");
}

void add_extension(X509* cert, int nid, const std::string& value) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
    ExtPtr ext{X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str())};
    require(ext && X509_add_ext(cert, ext.get(), -1) == 1, "adding an extension");
}

CertPtr self_signed(EVP_PKEY* key, const std::string& host) {
    CertPtr cert{X509_new()};
    require(cert != nullptr, "X509_new");
    X509_set_version(cert.get(), 2);  // v3, for extensions
    // A random serial: two certificates for the same name must never look like one.
    std::uint32_t serial = 0;
    require(RAND_bytes(reinterpret_cast<unsigned char*>(&serial), sizeof serial) == 1, "RAND");
    require(ASN1_INTEGER_set_int64(X509_get_serialNumber(cert.get()), std::int64_t(serial) + 1),
            "serial");
    X509_gmtime_adj(X509_getm_notBefore(cert.get()), -60);  // a little clock skew
    X509_gmtime_adj(X509_getm_notAfter(cert.get()), 24 * 60 * 60);
    X509_NAME* name = X509_get_subject_name(cert.get());
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>(host.c_str()), -1, -1, 0);
    X509_set_issuer_name(cert.get(), name);
    require(X509_set_pubkey(cert.get(), key) == 1, "X509_set_pubkey");
    add_extension(cert.get(), NID_subject_alt_name, "DNS:" + host);
    add_extension(cert.get(), NID_basic_constraints, "critical,CA:TRUE");
    require(X509_sign(cert.get(), key, EVP_sha256()) > 0, "X509_sign");
    return cert;
}

template <typename Write>
void write_pem(const std::filesystem::path& path, Write write) {
    std::FILE* file = std::fopen(path.c_str(), "wb");
    require(file != nullptr, "opening a PEM file");
    bool ok = write(file);
    require(std::fclose(file) == 0 && ok, "writing a PEM file");
}

}  // namespace

TestCert make_self_signed(const std::filesystem::path& dir, const std::string& stem,
                          const std::string& host, const std::string& pass_phrase) {
    KeyPtr key{EVP_EC_gen("P-256")};
    require(key != nullptr, "EVP_EC_gen");
    CertPtr cert = self_signed(key.get(), host);
    TestCert out{dir / (stem + ".crt"), dir / (stem + ".key")};
    write_pem(out.cert, [&](std::FILE* f) { return PEM_write_X509(f, cert.get()) == 1; });
    write_pem(out.key, [&](std::FILE* f) {
        auto* phrase = reinterpret_cast<const unsigned char*>(pass_phrase.data());
        const EVP_CIPHER* cipher = pass_phrase.empty() ? nullptr : EVP_aes_128_cbc();
        return PEM_write_PrivateKey(f, key.get(), cipher, phrase, int(pass_phrase.size()), nullptr,
                                    nullptr) == 1;
    });
    return out;
}

}  // namespace dinx::test
