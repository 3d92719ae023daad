// libFuzzer target: the config loader. The input is dinx.toml, a NUL byte, then route.toml. Any
// input must end in a Config that validates, or in a ConfigError that names a file; nothing
// else may escape, crash or hang.

#include "dict/config_loader.hpp"

#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view input(reinterpret_cast<const char*>(data), size);
    auto split = input.find('\0');
    auto nodes = input.substr(0, split);
    auto routes = split == std::string_view::npos ? std::string_view{} : input.substr(split + 1);
    try {
        auto config = dinx::dict::parse_config(nodes, routes);
        dinx::dict::validate(config);  // what parse_config returns is valid
    } catch (const dinx::dict::ConfigError& error) {
        if (error.file().empty()) std::abort();
    }
    return 0;
}
