#include "cluster/gate/client_session.hpp"

#include "cluster/runtime/drain.hpp"

#include <algorithm>

namespace dinx::cluster {
namespace {

using std::chrono::milliseconds;

std::string millis(std::chrono::steady_clock::duration elapsed) {
    return std::to_string(std::chrono::duration_cast<milliseconds>(elapsed).count()) + " ms";
}

}  // namespace

ClientRules ClientRules::from_settings(const dict::Settings& settings, std::uint32_t gate_id) {
    ClientRules rules;
    rules.gate_id = gate_id;
    rules.max_in_flight = settings.client_max_in_flight;
    rules.max_in_flight_bytes = settings.client_max_in_flight_bytes;
    rules.idle_timeout = milliseconds(settings.client_idle_timeout_ms);
    rules.frame_timeout = milliseconds(settings.client_frame_timeout_ms);
    rules.first_frame_timeout = milliseconds(settings.client_first_frame_timeout_ms);
    rules.handshake_timeout = milliseconds(settings.client_handshake_timeout_ms);
    return rules;
}

milliseconds ClientRules::check_interval() const {
    constexpr milliseconds min_interval{5}, max_interval{1000};
    auto shortest = std::min({idle_timeout, frame_timeout, first_frame_timeout, handshake_timeout});
    return std::clamp(shortest / 4, min_interval, max_interval);
}

ClientSession::ClientSession(const ClientRules& rules,
                             std::shared_ptr<node::FramedTransport> transport,
                             std::uint64_t conn_id, Clock::time_point accepted_at)
    : rules_(rules),
      transport_(std::move(transport)),
      conn_id_(conn_id),
      accepted_at_(accepted_at),
      last_heard_(accepted_at) {}

// (It may die after its shard, in an abandoned handler: it must not touch rules_ here.)
ClientSession::~ClientSession() {
    transport_->charge_memory(-held_bytes_);
}

Origin ClientSession::origin() const {
    return Origin{rules_.gate_id, conn_id_, uid_};
}

RoutePin& ClientSession::pin_for(dict::GroupId group) {
    if (auto* pin = find_pin(group)) return *pin;
    return pins_.emplace_back(RoutePin{group, 0, 0, {}});
}

RoutePin* ClientSession::find_pin(dict::GroupId group) {
    for (auto& pin : pins_)
        if (pin.group == group) return &pin;
    return nullptr;
}

void ClientSession::hold(RoutePin& pin, HeldRequest request) {
    auto bytes = static_cast<std::int64_t>(request.payload.size());
    held_bytes_ += bytes;
    transport_->charge_memory(bytes);
    pin.held.push_back(std::move(request));
}

std::vector<HeldRequest> ClientSession::take_held(RoutePin& pin) {
    auto held = std::exchange(pin.held, {});
    std::int64_t bytes = 0;
    for (const auto& request : held) bytes += static_cast<std::int64_t>(request.payload.size());
    held_bytes_ -= bytes;
    transport_->charge_memory(-bytes);
    return held;
}

void ClientSession::begin_request(std::uint32_t bytes) {
    ++in_flight_;
    in_flight_bytes_ += bytes;
    apply_in_flight_limits();
}

void ClientSession::end_request(std::uint32_t bytes) {
    if (in_flight_ == 0) return;
    --in_flight_;
    in_flight_bytes_ -= std::min(bytes, in_flight_bytes_);
    apply_in_flight_limits();
    close_if_answered();
}

// Back-pressure before the links feel it: a client with this much in flight is not read until
// answers come back, so a few clients that pipeline big requests cannot fill a link for all.
void ClientSession::apply_in_flight_limits() {
    if (ending_) return;  // it stays paused until its last frame is written
    if (in_flight_ >= rules_.max_in_flight || in_flight_bytes_ >= rules_.max_in_flight_bytes)
        transport_->pause_reading(node::pause_for_owner);
    else
        transport_->resume_reading(node::pause_for_owner);
}

bool ClientSession::on_peer_finished() {
    // shutdown(SHUT_WR) after the last request (nc -N, scripts): answer it all, then close.
    close_if_answered();
    return true;
}

void ClientSession::owe_sent_bytes() {
    owed_until_ = transport_->bytes_read() + transport_->unread_bytes();
    if (owing_ || !transport_->is_open() || transport_->bytes_read() >= owed_until_) return;
    owing_ = true;
    rules_.drain->enter();
}

void ClientSession::settle_owed_bytes() {
    if (!std::exchange(owing_, false)) return;
    rules_.drain->leave();
}

void ClientSession::close_if_answered() {
    if (transport_->peer_finished() && in_flight_ == 0)
        transport_->close_after_flush("peer closed");
}

void ClientSession::check_timeouts(Clock::time_point now) {
    auto& connection = *transport_;
    // A client paused because its requests wait for answers did send: its bytes wait in the
    // kernel because of us. One paused because it does not read its replies gets no such pass.
    if (connection.take_heard() || connection.paused_for(node::pause_for_owner)) last_heard_ = now;
    // Nothing written to it since the last check: its write buffer is idle memory.
    if (!connection.take_sent()) connection.release_idle_buffers();
    if (!connection.handshake_done() && now - accepted_at_ >= rules_.handshake_timeout) {
        disconnect_reason_ = DisconnectReason::idle;
        close(
            "no WebSocket or TLS handshake within " + millis(now - accepted_at_) + " of connecting",
            "did not finish its handshake in time");
        return;
    }
    if (connection.frames_read() == 0 && now - accepted_at_ >= rules_.first_frame_timeout) {
        disconnect_reason_ = DisconnectReason::idle;
        close("no complete frame within " + millis(now - accepted_at_) + " of connecting",
              "sent no complete frame after connecting");
        return;
    }
    if (connection.has_partial_frame() && !connection.reading_paused()) {
        if (partial_since_ == Clock::time_point{} || partial_frame_ != connection.frames_read()) {
            partial_since_ = now;  // a new frame started arriving
            partial_frame_ = connection.frames_read();
        } else if (now - partial_since_ >= rules_.frame_timeout) {
            disconnect_reason_ = DisconnectReason::idle;
            close("a frame still incomplete " + millis(now - partial_since_) +
                      " after its first byte",
                  "took too long to send one frame");
            return;
        }
    } else {
        partial_since_ = {};
    }
    if (now - last_heard_ >= rules_.idle_timeout) {
        disconnect_reason_ = DisconnectReason::idle;
        close("sent nothing for " + millis(now - last_heard_));  // players leave so: no warning
        return;
    }
    // A browser cannot send zinx heartbeats on its own, but it answers WebSocket pings: ask
    // one that has been quiet half the idle limit, and its pong counts as heard.
    if (now - last_heard_ >= rules_.idle_timeout / 2) connection.send_probe();
}

bool ClientSession::on_frame(std::uint32_t msg_id, Bytes payload) {
    if (ending_) return false;  // kicked: what it sends after that is not handled
    if (transport_->frames_read() == 1) rules_.events->on_first_client_frame(*this);
    rules_.events->on_client_frame(*this, msg_id, payload);
    // After its handling: what that frame asked for is owed work of its own by now.
    if (owing_ && transport_->bytes_read() >= owed_until_ && !transport_->has_held_frames())
        settle_owed_bytes();
    return is_open();
}

void ClientSession::end(DisconnectReason reason, std::uint32_t frame_msg_id, Bytes frame,
                        std::string why) {
    if (ending_ || !is_open()) return;
    ending_ = true;
    disconnect_reason_ = reason;
    transport_->pause_reading(node::pause_for_owner);
    send(frame_msg_id, frame);
    transport_->close_after_flush(std::move(why));
}

void ClientSession::on_closed() {
    settle_owed_bytes();
    rules_.events->on_client_closed(*this);
}

}  // namespace dinx::cluster
