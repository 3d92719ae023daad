#pragma once
// Self-signed certificates made at test time, so no key is checked in and none expires.

#include <filesystem>
#include <string>

namespace dinx::test {

/// A PEM certificate and its PEM private key on disk.
struct TestCert {
    std::filesystem::path cert;
    std::filesystem::path key;
};

/// Writes `<dir>/<stem>.crt` and `<dir>/<stem>.key`: a fresh EC P-256 key and a self-signed
/// certificate for `host` (subject CN and DNS subject alt name), valid for one day. With a
/// `pass_phrase` the key is written encrypted with it. Throws std::runtime_error when OpenSSL or
/// the file system fails.
TestCert make_self_signed(const std::filesystem::path& dir, const std::string& stem,
                          const std::string& host = "localhost",
                          const std::string& pass_phrase = "");

/// A fresh directory under the system's temp dir, removed with everything in it on destruction.
class TempDir {
public:
    /// Creates the directory, named after `prefix`, the process id and a counter.
    explicit TempDir(const std::string& prefix);
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    /// The directory.
    const std::filesystem::path& path() const { return path_; }

private:
    std::filesystem::path path_;
};

}  // namespace dinx::test
