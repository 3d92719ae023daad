#include "cluster/api/session.hpp"

#include <charconv>
#include <stdexcept>

namespace dinx::cluster {
namespace {

constexpr std::size_t pair_overhead = 3;  // key length u8, value length u16

void put_u16(std::string& out, std::size_t value) {
    out.push_back(static_cast<char>(value & 0xff));
    out.push_back(static_cast<char>((value >> 8) & 0xff));
}

std::size_t get_u16(std::string_view in, std::size_t at) {
    return static_cast<unsigned char>(in[at]) |
           (std::size_t(static_cast<unsigned char>(in[at + 1])) << 8);
}

void check_key(std::string_view key) {
    if (key.empty()) throw std::invalid_argument("a session key is not empty");
    if (key.size() > max_session_key)
        throw std::length_error("a session key is at most " + std::to_string(max_session_key) +
                                " bytes");
}

}  // namespace

SessionValues::Entry SessionValues::entry_at(std::size_t at) const {
    std::string_view all(data_);
    std::size_t key_size = static_cast<unsigned char>(all[at]);
    std::size_t value_at = at + 1 + key_size;
    std::size_t value_size = get_u16(all, value_at);
    return Entry{all.substr(at + 1, key_size), all.substr(value_at + 2, value_size), at,
                 value_at + 2 + value_size};
}

std::optional<SessionValues::Entry> SessionValues::find(std::string_view key) const {
    for (std::size_t at = 0; at < data_.size();) {
        auto entry = entry_at(at);
        if (entry.key == key) return entry;
        at = entry.end;
    }
    return std::nullopt;
}

std::optional<SessionValues> SessionValues::decode(Bytes encoded) {
    std::string_view in = as_text(encoded);
    if (in.size() > max_session_bytes) return std::nullopt;
    std::size_t count = 0;
    for (std::size_t at = 0; at < in.size(); ++count) {
        if (at + 1 > in.size()) return std::nullopt;
        std::size_t key_size = static_cast<unsigned char>(in[at]);
        std::size_t value_at = at + 1 + key_size;
        if (key_size == 0 || key_size > max_session_key || value_at + 2 > in.size())
            return std::nullopt;
        std::size_t value_size = get_u16(in, value_at);
        if (value_size > max_session_value || value_at + 2 + value_size > in.size())
            return std::nullopt;
        at = value_at + 2 + value_size;
    }
    if (count > max_session_values) return std::nullopt;
    SessionValues values;
    values.data_.assign(in);
    return values;
}

std::optional<std::string_view> SessionValues::get(std::string_view key) const {
    auto entry = find(key);
    if (!entry) return std::nullopt;
    return entry->value;
}

void SessionValues::set(std::string_view key, std::string_view value) {
    check_key(key);
    if (value.size() > max_session_value)
        throw std::length_error("a session value is at most " + std::to_string(max_session_value) +
                                " bytes");
    auto old = find(key);
    std::size_t old_size = old ? old->end - old->begin : 0;
    std::size_t new_size = pair_overhead + key.size() + value.size();
    if (data_.size() - old_size + new_size > max_session_bytes)
        throw std::length_error("a session's values take at most " +
                                std::to_string(max_session_bytes) + " bytes");
    if (!old && size() >= max_session_values)
        throw std::length_error("a session holds at most " + std::to_string(max_session_values) +
                                " values");
    std::string pair;
    pair.reserve(new_size);
    pair.push_back(static_cast<char>(key.size()));
    pair.append(key);
    put_u16(pair, value.size());
    pair.append(value);
    if (old)
        data_.replace(old->begin, old_size, pair);  // keeps its place
    else
        data_.append(pair);
}

bool SessionValues::erase(std::string_view key) {
    auto entry = find(key);
    if (!entry) return false;
    data_.erase(entry->begin, entry->end - entry->begin);
    if (data_.empty()) data_.shrink_to_fit();
    return true;
}

std::size_t SessionValues::size() const {
    std::size_t count = 0;
    for_each([&](std::string_view, std::string_view) { ++count; });
    return count;
}

void SessionChanges::add(SessionOp op, std::string_view a, std::string_view b) {
    data_.push_back(static_cast<char>(op));
    put_u16(data_, a.size());
    data_.append(a);
    put_u16(data_, b.size());
    data_.append(b);
}

std::optional<SessionChanges::Change> SessionChanges::read_at(Bytes encoded, std::size_t& at) {
    std::string_view in = as_text(encoded);
    if (at + 3 > in.size()) return std::nullopt;
    auto op = static_cast<unsigned char>(in[at]);
    if (op < std::uint8_t(SessionOp::bind) || op > std::uint8_t(SessionOp::leave))
        return std::nullopt;
    std::size_t a_size = get_u16(in, at + 1);
    std::size_t b_len_at = at + 3 + a_size;
    if (b_len_at + 2 > in.size()) return std::nullopt;
    std::size_t b_size = get_u16(in, b_len_at);
    if (b_len_at + 2 + b_size > in.size()) return std::nullopt;
    Change change{SessionOp(op), in.substr(at + 3, a_size), in.substr(b_len_at + 2, b_size)};
    at = b_len_at + 2 + b_size;
    return change;
}

std::optional<std::int64_t> Session::get_int(std::string_view key) const {
    auto text = get(key);
    if (!text) return std::nullopt;
    std::int64_t value = 0;
    auto [end, error] = std::from_chars(text->data(), text->data() + text->size(), value);
    if (error != std::errc{} || end != text->data() + text->size()) return std::nullopt;
    return value;
}

void Session::set(std::string_view key, std::string_view value) {
    values_.set(key, value);  // throws over a limit, before anything is recorded
    changes_.add(SessionOp::set, key, value);
}

void Session::set_int(std::string_view key, std::int64_t value) {
    set(key, std::to_string(value));
}

void Session::erase(std::string_view key) {
    if (values_.erase(key)) changes_.add(SessionOp::erase, key);
}

void Session::record(SessionOp op, std::string_view a) {
    changes_.add(op, a);
}

}  // namespace dinx::cluster
