#pragma once
// The processes of the chaos test: 2 gates, 3 im nodes and the demo's services (account-1, rank-1,
// rank-2: the gates' sign in, score and leaderboard call them), one dinx-demo process per node,
// and the chaos done to them at random moments drawn from a seed: to the backends (im, account and
// rank nodes) SIGKILL then restart, SIGSTOP then SIGCONT, SIGTERM then restart; to the gates
// SIGKILL then restart, one gate at a time so that the clients always have one.

#include "tests/support/child_process.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace dinx::chaos {

using Clock = std::chrono::steady_clock;

/// One node and the process running it.
struct ChaosNode {
    std::uint32_t id = 0;
    std::string name;
    std::string group;  ///< "gate", "im", "account" or "rank"
    bool gate = false;
    std::uint16_t port = 0;       ///< client port (gates) or link port (backends)
    std::uint16_t link_port = 0;  ///< gates only
    std::optional<test::ChildProcess> process;
    enum class State { running, stopped, killed, terminating } state = State::running;
    Clock::time_point recover_at{};  ///< when to SIGCONT or restart
    std::uint64_t max_rss_kib = 0;
    int lives = 0;           ///< processes started for this node
    bool listening = false;  ///< its current process was seen listening (so it handles SIGTERM)
};

/// What the chaos did to the nodes of one backend group.
struct GroupActs {
    int kills = 0, stops = 0, terms = 0;
};

/// Counts of what the chaos did and found.
struct ChaosEvents {
    int kills = 0, stops = 0, terms = 0, restarts = 0;  ///< done to the backends, restarts to all
    std::map<std::string, GroupActs> by_group;          ///< the same by backend group
    int gate_kills = 0;                                 ///< SIGKILLs of a gate
    /// How long no im node was running (killed, stopped or draining). Requests then can only
    /// get `unavailable`; so can they while the gates have yet to re-dial nodes that came back
    /// (up to reconnect_max_ms after a failed dial), which this does not count.
    std::chrono::duration<double> all_down{};
    /// How long account-1 was not running, so that every sign in failed.
    std::chrono::duration<double> account_down{};
    /// How long no rank node was running, so that every score failed and every leaderboard
    /// named both nodes as missing.
    std::chrono::duration<double> rank_down{};
    /// How long one gate was dead (from its SIGKILL to its restart, not counting its start).
    std::chrono::duration<double> gate_down{};
    std::vector<std::string> crashes;  ///< processes that ended in a way we did not cause
};

/// The cluster under test.
class ChaosCluster {
public:
    /// Writes the conf into `dir` (free ports, heartbeat `heartbeat_ms`) and starts every node.
    ChaosCluster(std::string demo_path, std::filesystem::path dir, std::uint32_t seed,
                 int heartbeat_ms);
    ~ChaosCluster();

    /// The gates' client ports.
    std::vector<std::uint16_t> gate_ports() const;
    /// Calls `listener(client port)` just before a gate is SIGKILLed, so that its clients can
    /// tell that close from a failure.
    void on_gate_kill(std::function<void(std::uint16_t)> listener) {
        gate_kill_listener_ = std::move(listener);
    }
    /// Does what is due: recoveries, and a new act of chaos at random intervals.
    void step(Clock::time_point now);
    /// Ends the chaos: SIGCONTs and restarts every node that is down, and waits for them to
    /// listen.
    void heal();
    /// Samples every running process's RSS and checks for crashes.
    void sample();
    /// The nodes, for the report.
    const std::vector<ChaosNode>& nodes() const { return nodes_; }
    /// What happened.
    const ChaosEvents& events() const { return events_; }
    /// Everything the processes wrote.
    std::string logs() const;

private:
    void write_conf() const;
    void start(ChaosNode& node);
    ChaosNode& pick_target();
    void account(Clock::time_point now);
    bool is_up(ChaosNode& node);
    void act(ChaosNode& node, Clock::time_point now);
    void kill_gate(ChaosNode& gate, Clock::time_point now);
    void recover(ChaosNode& node);
    void wait_listening(const ChaosNode& node) const;

    std::string demo_path_;
    std::filesystem::path dir_;
    int heartbeat_ms_;
    std::mt19937 random_;
    std::vector<ChaosNode> nodes_;
    Clock::time_point next_act_{};
    Clock::time_point last_step_{};
    ChaosEvents events_;
    std::vector<std::filesystem::path> old_logs_;
    std::function<void(std::uint16_t)> gate_kill_listener_;
};

}  // namespace dinx::chaos
