#include "demo/handlers.hpp"

#include "demo/services.hpp"

#include <string>

namespace dinx::demo {
namespace {

// How other players see a client: its uid, or guest-<conn id> before login.
std::string display_name(const Origin& client) {
    return client.uid.empty() ? "guest-" + std::to_string(client.conn_id) : client.uid;
}

void on_login(Context& ctx, Bytes data) {
    std::string name(as_text(data));
    if (name.empty()) {
        ctx.fail(Error::bad_request, "login needs a name");
        return;
    }
    if (name.size() > max_uid_size) {
        ctx.fail(Error::bad_request, "a name is at most 255 bytes");
        return;
    }
    ctx.bind(name);
    ctx.reply(login, "welcome " + name);
}

void on_logout(Context& ctx, Bytes) {
    auto name = display_name(ctx.client());
    ctx.unbind();
    ctx.reply(logout, "bye " + name);
}

void on_send(Context& ctx, Bytes data) {
    ctx.reply(send, ctx.node().name + ": " + std::string(as_text(data)));
}

void on_broadcast(Context& ctx, Bytes data) {
    ctx.broadcast(broadcast, display_name(ctx.client()) + ": " + std::string(as_text(data)));
}

// The first node passes the message to a peer of its group (itself when alone); the peer
// answers naming both, which shows forwarding keeps the player as the reply's target.
void on_relay(Context& ctx, Bytes data) {
    if (const auto* first = ctx.forwarded_by()) {
        ctx.reply(relay,
                  ctx.node().name + " via " + first->name + ": " + std::string(as_text(data)));
        return;
    }
    ctx.forward(ctx.node().group, relay, data, /*avoid_self=*/true);
}

// The payload back, unchanged: what the load tool measures round trips with.
void on_echo(Context& ctx, Bytes data) {
    ctx.reply(echo, data);
}

// Others see who sent a message by its uid: a guest may not speak to them (needs_login()).
Verdict require_login(ClientFrame& frame) {
    if (!needs_login(frame.msg_id()) || !frame.client().uid.empty()) return Verdict::pass;
    frame.fail(Error::unauthenticated, "log in first (msg_id 1)");
    return Verdict::stop;
}

}  // namespace

void register_demo_handlers(const std::function<void(std::uint32_t, Handler)>& handle) {
    handle(login, on_login);
    handle(logout, on_logout);
    handle(send, on_send);
    handle(broadcast, on_broadcast);
    handle(relay, on_relay);
    handle(echo, on_echo);
    register_player_handlers(handle);
}

bool needs_login(std::uint32_t msg_id) {
    // join, leave, say, whisper, members: rooms and whispers speak as a player too.
    // score and standing speak as a player too: they are kept under the player's uid.
    return msg_id == send || msg_id == broadcast || msg_id == relay ||
           (msg_id >= join && msg_id <= members) || msg_id == score || msg_id == standing;
}

void register_demo_interceptors(const std::function<void(Interceptor)>& intercept) {
    intercept(require_login);
}

}  // namespace dinx::demo
