#pragma once
// Self-signed certificates made at test time, so no key is checked in and none expires.

#include "tests/support/child_process.hpp"  // TempDir, for the files these are written to

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

}  // namespace dinx::test
