#include "tests/chaos/chaos_cluster.hpp"

#include <algorithm>
#include <csignal>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string_view>
#include <thread>

namespace dinx::chaos {
namespace {

using std::chrono::milliseconds;

// The cluster secret of the run: the links are authenticated as in production.
constexpr const char* secret = "DINX_CLUSTER_SECRET=chaos-test-secret-0123456789";

std::uint64_t rss_kib(pid_t pid) {
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(status, line))
        if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6));
    return 0;
}

milliseconds between(std::mt19937& random, int low_ms, int high_ms) {
    return milliseconds(std::uniform_int_distribution<int>(low_ms, high_ms)(random));
}

}  // namespace

ChaosCluster::ChaosCluster(std::string demo_path, std::filesystem::path dir, std::uint32_t seed,
                           int heartbeat_ms)
    : demo_path_(std::move(demo_path)),
      dir_(std::move(dir)),
      heartbeat_ms_(heartbeat_ms),
      random_(seed) {
    auto ports = test::free_ports(10);
    auto add = [&](std::uint32_t id, std::string name, std::string group, std::uint16_t port,
                   std::uint16_t link_port) {
        auto& node = nodes_.emplace_back();
        node.id = id;
        node.name = std::move(name);
        node.gate = group == "gate";
        node.group = std::move(group);
        node.port = port;
        node.link_port = link_port;
    };
    add(1, "gate-1", "gate", ports[0], ports[1]);
    add(2, "gate-2", "gate", ports[2], ports[3]);
    add(3, "im-1", "im", ports[4], 0);
    add(4, "im-2", "im", ports[5], 0);
    add(5, "im-3", "im", ports[6], 0);
    // The services the gates' coroutine handlers call (demo/services.cpp).
    add(6, "account-1", "account", ports[7], 0);
    add(7, "rank-1", "rank", ports[8], 0);
    add(8, "rank-2", "rank", ports[9], 0);
    write_conf();
    for (auto& node : nodes_) start(node);
    for (const auto& node : nodes_) wait_listening(node);
    next_act_ = Clock::now() + between(random_, 300, 1000);
}

ChaosCluster::~ChaosCluster() = default;

void ChaosCluster::write_conf() const {
    std::ofstream nodes(dir_ / "dinx.toml");
    nodes << "[cluster]\nheartbeat_interval_ms = " << heartbeat_ms_
          << "\ndrain_timeout_ms = 2000\n";
    for (const auto& node : nodes_) {
        nodes << "\n[[" << node.group << "]]\nid = " << node.id << "\nname = \"" << node.name
              << "\"\ntype = \"" << (node.gate ? "frontend" : "backend")
              << "\"\nhost = \"127.0.0.1\"\nport = " << node.port << "\n";
        if (node.gate) nodes << "link_port = " << node.link_port << "\n";
    }
    std::ofstream routes(dir_ / "route.toml");
    routes << "[[gate]]\nmsg_id = 1\nname = \"login\"\n\n"
           << "[[im]]\nmsg_id = 5\nname = \"relay\"\n\n"
           << "[[im]]\nmsg_id = 6\nname = \"echo\"\n\n"
           << "[[gate]]\nmsg_id = 14\nname = \"sign_in\"\n\n"
           << "[[gate]]\nmsg_id = 15\nname = \"score\"\n\n"
           << "[[gate]]\nmsg_id = 16\nname = \"leaderboard\"\n";
}

std::vector<std::uint16_t> ChaosCluster::gate_ports() const {
    std::vector<std::uint16_t> ports;
    for (const auto& node : nodes_)
        if (node.gate) ports.push_back(node.port);
    return ports;
}

void ChaosCluster::start(ChaosNode& node) {
    auto log = dir_ / (node.name + "." + std::to_string(node.lives++) + ".log");
    node.process.emplace(
        std::vector<std::string>{"/usr/bin/env", secret, demo_path_, "--conf", dir_.string(),
                                 "--id", std::to_string(node.id), "--log-level", "warn"},
        log);
    node.state = ChaosNode::State::running;
    node.listening = false;
}

void ChaosCluster::wait_listening(const ChaosNode& node) const {
    if (!test::wait_for_port(node.port, std::chrono::seconds(10)))
        throw std::runtime_error(node.name + " does not listen on " + std::to_string(node.port));
}

void ChaosCluster::step(Clock::time_point now) {
    account(now);
    for (auto& node : nodes_)
        if (node.state != ChaosNode::State::running && now >= node.recover_at) recover(node);
    if (now < next_act_) return;
    next_act_ = now + between(random_, 500, 2000);
    auto& target = pick_target();
    if (!is_up(target)) return;
    if (!target.gate) {
        act(target, now);
        return;
    }
    // The clients of a killed gate reconnect to it once it is back; the other gate must then
    // be up, or a moment would come with no gate at all.
    bool others_up = std::all_of(nodes_.begin(), nodes_.end(), [&](ChaosNode& node) {
        return !node.gate || &node == &target || is_up(node);
    });
    if (others_up) kill_gate(target, now);
}

// One act in four is done to a gate: killing a gate cuts half the clients, so it is kept
// rarer than the acts on the backends (im nodes and services alike), which are what the
// requests go through.
ChaosNode& ChaosCluster::pick_target() {
    std::vector<ChaosNode*> gates, backends;
    for (auto& node : nodes_) (node.gate ? gates : backends).push_back(&node);
    auto& kind = std::uniform_int_distribution<int>(0, 3)(random_) == 0 ? gates : backends;
    return *kind[std::uniform_int_distribution<std::size_t>(0, kind.size() - 1)(random_)];
}

// Adds the time since the last step to the downtimes it belongs to.
void ChaosCluster::account(Clock::time_point now) {
    using State = ChaosNode::State;
    auto since_last = last_step_ == Clock::time_point{} ? Clock::duration{} : now - last_step_;
    last_step_ = now;
    auto any_running = [&](std::string_view group) {
        return std::any_of(nodes_.begin(), nodes_.end(), [&](const ChaosNode& node) {
            return node.group == group && node.state == State::running;
        });
    };
    bool gate_dead = std::any_of(nodes_.begin(), nodes_.end(), [](const ChaosNode& node) {
        return node.gate && node.state == State::killed;
    });
    if (!any_running("im")) events_.all_down += since_last;
    if (!any_running("account")) events_.account_down += since_last;
    if (!any_running("rank")) events_.rank_down += since_last;
    if (gate_dead) events_.gate_down += since_last;
}

// Running and seen listening. A process that does not listen yet may not handle SIGTERM yet
// either (its exit code would then be 143, which is no crash of ours), and a gate that does not
// listen yet cannot take its clients back.
bool ChaosCluster::is_up(ChaosNode& node) {
    if (node.state != ChaosNode::State::running) return false;
    node.listening = node.listening || test::port_accepts(node.port);
    return node.listening;
}

void ChaosCluster::act(ChaosNode& node, Clock::time_point now) {
    auto& acts = events_.by_group[node.group];
    switch (std::uniform_int_distribution<int>(0, 2)(random_)) {
        case 0:
            node.process->send_signal(SIGKILL);
            node.state = ChaosNode::State::killed;
            node.recover_at = now + between(random_, 200, 1500);
            ++events_.kills;
            ++acts.kills;
            break;
        case 1:
            // Sometimes shorter, sometimes longer than it takes to be declared dead.
            node.process->send_signal(SIGSTOP);
            node.state = ChaosNode::State::stopped;
            node.recover_at = now + between(random_, heartbeat_ms_ / 2, heartbeat_ms_ * 6);
            ++events_.stops;
            ++acts.stops;
            break;
        default:
            node.process->send_signal(SIGTERM);
            node.state = ChaosNode::State::terminating;
            node.recover_at = now + between(random_, 100, 1000);
            ++events_.terms;
            ++acts.terms;
    }
}

void ChaosCluster::kill_gate(ChaosNode& gate, Clock::time_point now) {
    // Told first: once the signal is sent, the kernel may close the connections at any moment.
    if (gate_kill_listener_) gate_kill_listener_(gate.port);
    gate.process->send_signal(SIGKILL);
    gate.state = ChaosNode::State::killed;
    gate.recover_at = now + between(random_, 200, 1500);
    ++events_.gate_kills;
}

void ChaosCluster::recover(ChaosNode& node) {
    using State = ChaosNode::State;
    if (node.state == State::stopped) {
        node.process->send_signal(SIGCONT);
        node.state = State::running;
        return;
    }
    // A SIGTERMed node drains first; give it its drain time before calling it stuck. Even a
    // SIGKILLed one may take over a second to be reaped on a loaded machine (seen under ASan,
    // whose processes map terabytes of shadow memory for the kernel to tear down).
    auto code = node.process->wait_for_exit(milliseconds(5000));
    int expected = node.state == State::killed ? 128 + SIGKILL : 0;
    if (!code || *code != expected)
        events_.crashes.push_back(node.name + " ended with " +
                                  (code ? "exit code " + std::to_string(*code) : "no exit") +
                                  ", expected " + std::to_string(expected));
    old_logs_.push_back(node.process->output_file());
    start(node);
    ++events_.restarts;
}

void ChaosCluster::heal() {
    for (auto& node : nodes_)
        if (node.state != ChaosNode::State::running) recover(node);
    for (const auto& node : nodes_) wait_listening(node);
}

void ChaosCluster::sample() {
    for (auto& node : nodes_) {
        if (!node.process) continue;
        if (node.state == ChaosNode::State::running && !node.process->running()) {
            events_.crashes.push_back(node.name +
                                      " exited by itself: " + node.process->read_output());
            node.state = ChaosNode::State::killed;  // restart it, and say so
            node.recover_at = Clock::now();
            continue;
        }
        node.max_rss_kib = std::max(node.max_rss_kib, rss_kib(node.process->pid()));
    }
}

std::string ChaosCluster::logs() const {
    std::string text;
    auto append_file = [&](const std::filesystem::path& path) {
        std::ifstream in(path);
        std::stringstream content;
        content << in.rdbuf();
        text += "==== " + path.filename().string() + "\n" + content.str();
    };
    for (const auto& path : old_logs_) append_file(path);
    for (const auto& node : nodes_)
        if (node.process) append_file(node.process->output_file());
    return text;
}

}  // namespace dinx::chaos
