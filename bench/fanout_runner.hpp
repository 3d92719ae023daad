#pragma once
// The two modes of dinx-fanout: room broadcast load, and idle bound members held open.

#include "bench/fanout_members.hpp"

#include <cstdint>
#include <string>

namespace dinx::bench {

/// The demo's msgIDs dinx-fanout speaks.
enum FanoutMsgId : std::uint32_t { login_msg = 1, join_msg = 7, say_msg = 9, set_msg = 12 };

/// Command-line settings of dinx-fanout.
struct FanoutOptions {
    Endpoints endpoints;            ///< server address and ports (one per gate)
    std::uint32_t members = 1000;   ///< client connections, each logged in as m<i>
    std::string room = "lobby";     ///< the one room every member joins
    std::uint32_t values = 0;       ///< session values set per member (msg 12 k<j> <value>)
    std::uint32_t value_size = 16;  ///< bytes of each value
    std::uint32_t senders = 1;      ///< members 0..senders-1 say things
    std::uint32_t window = 4;       ///< says in flight per sender
    std::uint32_t size = 64;        ///< bytes of a say's text
    double warmup_s = 1.0;          ///< says before measuring
    double duration_s = 5.0;        ///< measured says
    double drain_s = 3.0;  ///< at the end, deliveries missing after this long without any are lost
    std::uint32_t setup_window = 256;  ///< setup requests in flight across all members
    std::uint32_t error_msg_id = 0xFFFF'FFFF;
    bool hold = false;  ///< connect, log in, set values, hold idle until SIGINT/SIGTERM
    bool json = false;  ///< the report as one JSON object
    /// A say is complete when every member got it, not when its sender got its own frame back:
    /// the window then bounds the deliveries in flight even where the sender is answered first.
    bool wait_all = false;
};

/// Logs every member in, joins them to the room, sets the values (each request awaited), then
/// runs the says and prints the report. Exit code 0 only when every member got every say (those
/// after the warm-up are the ones counted as lost; a missing warm-up one fails the run too), with
/// no error frame, no reordering and no connection closed.
int run_fanout(const FanoutOptions& options);

/// Logs every member in and sets the values, prints "ready members=N values=K", holds them
/// until SIGINT/SIGTERM, prints "held=N dropped=K". Exit code 0 when none dropped.
int run_hold(const FanoutOptions& options);

/// Each member's login, join and values, awaited one at a time per member and at most
/// options.setup_window at a time overall; throws on an error frame or a wrong reply.
void set_up_members(Members& members, const FanoutOptions& options, bool join);

}  // namespace dinx::bench
