#pragma once
// Nodes of one cluster config started in this test process on port 0, in one or several
// Process objects that find each other through a shared address book.

#include "cluster/runtime/live_reload.hpp"
#include "cluster/runtime/process.hpp"
#include "dict/config.hpp"
#include "node/blocking_client.hpp"

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace dinx::test {

/// A node row for make_config: every node listens on 127.0.0.1, port 0.
struct NodeSpec {
    std::uint32_t id;
    std::string name;
    std::string group;
    dict::NodeType type;
};

/// A frontend node spec.
NodeSpec gate(std::uint32_t id, std::string name, std::string group = "gate");
/// A backend node spec.
NodeSpec backend(std::uint32_t id, std::string name, std::string group = "im");

/// A validated config of `nodes` and routes msgID -> group.
dict::Config make_config(const std::vector<NodeSpec>& nodes,
                         const std::map<std::uint32_t, std::string>& routes);
/// The demo's routes (1, 2 -> gate; 3, 4, 5 -> im) plus the test handlers' (20, 21 -> im).
std::map<std::uint32_t, std::string> demo_routes();

/// Test-only msgIDs: 20 whoami replies "<gate id> <conn id>"; 21 whisper "<conn id> <text>"
/// sends <text> to that client of the same gate with msgID 21; 22 big "<n>" replies n bytes;
/// 23 hold runs on the gate and blocks its io thread until hold_switch().release(), then
/// replies "released"; 24 slow "<ms>" is a coroutine that sleeps that long, then replies
/// "<node name> <ms>".
enum TestMsgId : std::uint32_t { whoami = 20, whisper = 21, big = 22, hold = 23, slow = 24 };

/// What msgID 23 (hold) waits for: lets a test act while a gate's io thread is busy.
class HoldSwitch {
public:
    /// Makes the next hold block again.
    void arm();
    /// Waits until a hold handler runs (and blocks); false after `timeout`.
    bool wait_until_held(std::chrono::milliseconds timeout);
    /// Lets the hold handler return.
    void release();
    /// Called by the hold handler: blocks until release() (or 10 s, so a test cannot hang).
    void hold();

private:
    std::mutex mutex_;
    std::condition_variable changed_;
    bool held_ = false;
    bool released_ = false;
};

/// The one switch of msgID 23.
HoldSwitch& hold_switch();

/// Counts the slow handlers (msgID 24) that started, so a test knows a request reached its
/// node before it changes the cluster under it.
class StartCount {
public:
    /// One more started.
    void add();
    /// How many started so far.
    std::size_t started();
    /// Waits until `count` started in all; false after `timeout`.
    bool wait_for(std::size_t count, std::chrono::milliseconds timeout);

private:
    std::mutex mutex_;
    std::condition_variable changed_;
    std::size_t started_ = 0;
};

/// The count of msgID 24's starts, over every test of the process.
StartCount& slow_starts();

/// The demo handlers plus the test handlers, run by nodes started here.
class TestCluster {
public:
    /// Nodes of `config`, whose gates run `interceptors` in this order; none runs until
    /// start().
    explicit TestCluster(dict::Config config, std::vector<cluster::Interceptor> interceptors = {});
    ~TestCluster();

    /// Starts `ids` as one process with `io_threads` threads.
    void start(const std::vector<std::uint32_t>& ids, std::size_t io_threads = 2);
    /// Stops the process that runs `id` (and the other nodes it runs).
    void stop(std::uint32_t id);
    /// The process that runs `id`.
    cluster::Process& process_of(std::uint32_t id);
    /// Applies `config` to every running process as a live reload would, and runs the nodes
    /// started from now on with it when every process took it; returns each process's
    /// report, in start order.
    std::vector<cluster::ReloadReport> reload(dict::Config config);
    /// A client connected to gate `gate_id`.
    std::unique_ptr<node::BlockingClient> connect(std::uint32_t gate_id);
    /// Gate `gate_id`'s client port.
    std::uint16_t client_port(std::uint32_t gate_id) const;
    /// The shared address book (a fake node can register its port here).
    cluster::AddressBook& addresses() { return *addresses_; }
    /// The msgID of error frames.
    std::uint32_t error_msg_id() const { return topology_->settings().error_msg_id; }
    /// The handlers every node started here runs: a test may add its own (and the session
    /// event handler) before the first start().
    cluster::HandlerTable& handlers() { return *handlers_; }

private:
    std::shared_ptr<const dict::Topology> topology_;
    std::shared_ptr<cluster::HandlerTable> handlers_;
    std::shared_ptr<cluster::AddressBook> addresses_;
    std::vector<std::pair<std::vector<std::uint32_t>, std::unique_ptr<cluster::Process>>>
        processes_;
};

/// Default wait for one frame.
inline constexpr std::chrono::milliseconds frame_timeout{5000};

/// The next frame, or a failed check (and a frame with msg_id 0) after `timeout`.
node::Frame next_frame(node::BlockingClient& client,
                       std::chrono::milliseconds timeout = frame_timeout);

}  // namespace dinx::test
