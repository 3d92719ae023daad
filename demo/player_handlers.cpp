// The demo's player messages: rooms, whispers across gates, and session values.

#include "demo/handlers.hpp"

#include <string>
#include <utility>

namespace dinx::demo {
namespace {

// "<first> <rest>" split at the first space; rest is empty when there is none.
std::pair<std::string_view, std::string_view> split_first(Bytes data) {
    auto text = as_text(data);
    auto space = text.find(' ');
    if (space == std::string_view::npos) return {text, {}};
    return {text.substr(0, space), text.substr(space + 1)};
}

bool valid_room(Context& ctx, std::string_view room) {
    if (!room.empty() && room.size() <= max_room_name) return true;
    ctx.fail(Error::bad_request, "a room name is 1 to 64 bytes");
    return false;
}

void on_join(Context& ctx, Bytes data) {
    auto room = as_text(data);
    if (!valid_room(ctx, room)) return;
    if (!ctx.join(room)) {
        ctx.fail(Error::bad_request, "cannot join more rooms");
        return;
    }
    ctx.reply(join, "joined " + std::string(room) + ": " + std::to_string(ctx.room_size(room)) +
                        " members");
}

void on_leave(Context& ctx, Bytes data) {
    auto room = as_text(data);
    if (!valid_room(ctx, room)) return;
    ctx.leave(room);
    ctx.reply(leave, "left " + std::string(room));
}

// Every other member hears it once per gate's envelope; the speaker gets the same line back.
void on_say(Context& ctx, Bytes data) {
    auto [room, text] = split_first(data);
    if (!valid_room(ctx, room)) return;
    auto line = std::string(room) + " " + ctx.client().uid + ": " + std::string(text);
    ctx.send_to_room(room, say, line, ctx.client().uid);
    ctx.reply(say, line);
}

void on_whisper(Context& ctx, Bytes data) {
    auto [to, text] = split_first(data);
    if (!ctx.push(to, whisper, ctx.client().uid + ": " + std::string(text))) {
        ctx.fail("offline", std::string(to) + " is not online");
        return;
    }
    ctx.reply(whisper, "to " + std::string(to) + ": " + std::string(text));
}

void on_members(Context& ctx, Bytes data) {
    auto room = as_text(data);
    if (!valid_room(ctx, room)) return;
    std::string line = std::string(room) + ":";
    for (const auto& uid : ctx.members(room)) line += " " + uid;
    ctx.reply(members, line);
}

void on_set(Context& ctx, Bytes data) {
    auto [key, value] = split_first(data);
    try {
        ctx.session().set(key, value);
    } catch (const std::exception& error) {
        ctx.fail(Error::bad_request, error.what());
        return;
    }
    ctx.reply(set_value, std::string(key) + "=" + std::string(value));
}

void on_get(Context& ctx, Bytes data) {
    auto key = as_text(data);
    auto value = ctx.session().get(key);
    if (!value) {
        ctx.reply(get_value, std::string(key) + " is not set");
        return;
    }
    ctx.reply(get_value, std::string(key) + "=" + std::string(*value));
}

}  // namespace

void register_player_handlers(const std::function<void(std::uint32_t, Handler)>& handle) {
    handle(join, on_join);
    handle(leave, on_leave);
    handle(say, on_say);
    handle(whisper, on_whisper);
    handle(members, on_members);
    handle(set_value, on_set);
    handle(get_value, on_get);
}

}  // namespace dinx::demo
