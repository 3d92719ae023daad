#include "cluster/rpc/error_frame.hpp"

#include <fmt/format.h>

namespace dinx::cluster {
namespace {

void append_json_string(std::string& out, std::string_view text) {
    out += '"';
    for (char c : text) {
        switch (c) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\r':
                out += "\\r";
                break;
            case '\t':
                out += "\\t";
                break;
            default:
                if (static_cast<unsigned char>(c) < 0x20)
                    out += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
                else
                    out += c;
        }
    }
    out += '"';
}

}  // namespace

std::string error_payload(std::uint32_t msg_id, std::string_view code, std::string_view message) {
    std::string out = fmt::format(R"({{"msg_id": {}, "code": )", msg_id);
    append_json_string(out, code);
    out += R"(, "message": )";
    append_json_string(out, message);
    out += '}';
    return out;
}

}  // namespace dinx::cluster
