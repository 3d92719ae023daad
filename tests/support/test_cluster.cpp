#include "support/test_cluster.hpp"

#include "demo/handlers.hpp"
#include "dict/config_loader.hpp"

#include <doctest/doctest.h>

#include <charconv>

namespace dinx::test {
namespace {

void on_whoami(Context& ctx, Bytes) {
    ctx.reply(TestMsgId::whoami,
              std::to_string(ctx.client().gate_id) + " " + std::to_string(ctx.client().conn_id));
}

void on_whisper(Context& ctx, Bytes data) {
    auto text = as_text(data);
    auto space = text.find(' ');
    std::uint64_t conn = 0;
    std::from_chars(text.data(), text.data() + std::min(space, text.size()), conn);
    ctx.send_to(ctx.client().gate_id, conn, TestMsgId::whisper,
                space == std::string_view::npos ? "" : text.substr(space + 1));
}

void on_big(Context& ctx, Bytes data) {
    std::size_t size = 0;
    std::from_chars(as_text(data).data(), as_text(data).data() + data.size(), size);
    ctx.reply(TestMsgId::big, std::string(size, 'b'));
}

void on_hold(Context& ctx, Bytes) {
    hold_switch().hold();
    ctx.reply(TestMsgId::hold, "released");
}

Task<void> on_slow(Context& ctx, Bytes data) {
    std::string text(as_text(data));
    int ms = 0;
    std::from_chars(text.data(), text.data() + text.size(), ms);
    slow_starts().add();
    co_await ctx.sleep(std::chrono::milliseconds(ms));
    ctx.reply(TestMsgId::slow, ctx.node().name + " " + text);
}

}  // namespace

void HoldSwitch::arm() {
    std::lock_guard lock(mutex_);
    held_ = false;
    released_ = false;
}

bool HoldSwitch::wait_until_held(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] { return held_; });
}

void HoldSwitch::release() {
    std::lock_guard lock(mutex_);
    released_ = true;
    changed_.notify_all();
}

void HoldSwitch::hold() {
    std::unique_lock lock(mutex_);
    held_ = true;
    changed_.notify_all();
    changed_.wait_for(lock, std::chrono::seconds(10), [&] { return released_; });
}

HoldSwitch& hold_switch() {
    static HoldSwitch the_switch;
    return the_switch;
}

void StartCount::add() {
    std::lock_guard lock(mutex_);
    ++started_;
    changed_.notify_all();
}

std::size_t StartCount::started() {
    std::lock_guard lock(mutex_);
    return started_;
}

bool StartCount::wait_for(std::size_t count, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] { return started_ >= count; });
}

StartCount& slow_starts() {
    static StartCount count;
    return count;
}

NodeSpec gate(std::uint32_t id, std::string name, std::string group) {
    return {id, std::move(name), std::move(group), dict::NodeType::frontend};
}

NodeSpec backend(std::uint32_t id, std::string name, std::string group) {
    return {id, std::move(name), std::move(group), dict::NodeType::backend};
}

dict::Config make_config(const std::vector<NodeSpec>& nodes,
                         const std::map<std::uint32_t, std::string>& routes) {
    dict::Config config;
    for (const auto& spec : nodes)
        config.nodes.push_back({spec.id, spec.name, spec.group, spec.type, "127.0.0.1", 0, 0, 0});
    for (const auto& [msg_id, group] : routes)
        config.routes.push_back({msg_id, "msg" + std::to_string(msg_id), group, 0});
    dict::validate(config);
    return config;
}

std::map<std::uint32_t, std::string> demo_routes() {
    return {{1, "gate"},    {2, "gate"},     {3, "im"},   {4, "im"},     {5, "im"},
            {whoami, "im"}, {whisper, "im"}, {big, "im"}, {hold, "gate"}};
}

TestCluster::TestCluster(dict::Config config, std::vector<cluster::Interceptor> interceptors)
    : topology_(std::make_shared<const dict::Topology>(std::move(config))),
      handlers_(std::make_shared<cluster::HandlerTable>()),
      addresses_(std::make_shared<cluster::AddressBook>(topology_->config())) {
    demo::register_demo_handlers([this](std::uint32_t id, cluster::Handler handler) {
        handlers_->add(id, std::move(handler));
    });
    handlers_->add(whoami, on_whoami);
    handlers_->add(whisper, on_whisper);
    handlers_->add(big, on_big);
    handlers_->add(hold, on_hold);
    handlers_->add_coroutine(slow, on_slow);
    handlers_->interceptors = std::move(interceptors);
}

TestCluster::~TestCluster() = default;

void TestCluster::start(const std::vector<std::uint32_t>& ids, std::size_t io_threads) {
    auto process =
        std::make_unique<cluster::Process>(topology_, handlers_, ids, addresses_, io_threads);
    process->start();
    processes_.emplace_back(ids, std::move(process));
}

void TestCluster::stop(std::uint32_t id) {
    for (auto it = processes_.begin(); it != processes_.end(); ++it) {
        if (std::find(it->first.begin(), it->first.end(), id) == it->first.end()) continue;
        it->second->stop();
        processes_.erase(it);
        return;
    }
    FAIL("no running process has node ", id);
}

std::vector<cluster::ReloadReport> TestCluster::reload(dict::Config config) {
    std::vector<cluster::ReloadReport> reports;
    for (auto& [ids, process] : processes_)
        reports.push_back(cluster::apply_reload(*process, config, {handlers_.get(), false, {}}));
    if (std::all_of(reports.begin(), reports.end(), [](const auto& r) { return r.applied; }))
        topology_ = std::make_shared<const dict::Topology>(std::move(config));
    return reports;
}

cluster::Process& TestCluster::process_of(std::uint32_t id) {
    for (auto& [ids, process] : processes_)
        if (std::find(ids.begin(), ids.end(), id) != ids.end()) return *process;
    throw std::out_of_range("no running process has node " + std::to_string(id));
}

std::unique_ptr<node::BlockingClient> TestCluster::connect(std::uint32_t gate_id) {
    return std::make_unique<node::BlockingClient>("127.0.0.1", client_port(gate_id));
}

std::uint16_t TestCluster::client_port(std::uint32_t gate_id) const {
    return addresses_->client_port(gate_id);
}

node::Frame next_frame(node::BlockingClient& client, std::chrono::milliseconds timeout) {
    auto frame = client.receive(timeout);
    CHECK_MESSAGE(frame.has_value(), "no frame within ", timeout.count(), " ms");
    return frame.value_or(node::Frame{});
}

}  // namespace dinx::test
