// Directory: where each uid is, rooms, and which login keeps a uid whatever order events arrive.

#include "cluster/gate/directory.hpp"

#include <doctest/doctest.h>

using namespace dinx;
using namespace dinx::cluster;

namespace {

constexpr std::uintptr_t stream_a = 1;
constexpr std::uintptr_t stream_b = 2;

// What gate `directory` publishes, applied on `to` as if sent over `stream`.
std::vector<LoginLoser> relay(Directory& from, Directory& to, std::uint32_t from_id,
                              std::uintptr_t stream) {
    return to.apply(from_id, stream, from.take_outbox());
}

std::vector<PresenceUpdate> reset() {
    return {{PresenceOp::reset, 0, 0, {}, {}}};
}

// Gates 1 and 2 and a backend (3) under one policy, each listening to the gates' streams:
// the backend hears gate 1 over stream_a and gate 2 over stream_b; each gate hears the other
// over stream_a.
struct TwoGates {
    explicit TwoGates(dict::LoginPolicy policy)
        : gate1(1, policy), gate2(2, policy), backend(3, policy) {
        gate1.apply(2, stream_a, reset());
        gate2.apply(1, stream_a, reset());
        backend.apply(1, stream_a, reset());
        backend.apply(2, stream_b, reset());
    }
    // `updates` of gate `gate_id` (1 or 2), applied on the backend over that gate's stream.
    std::vector<LoginLoser> to_backend(std::uint32_t gate_id,
                                       const std::vector<PresenceUpdate>& updates) {
        return backend.apply(gate_id, gate_id == 1 ? stream_a : stream_b, updates);
    }
    // What gate `gate_id` published since it was last asked, applied on the backend.
    std::vector<LoginLoser> publish(std::uint32_t gate_id) {
        return to_backend(gate_id, (gate_id == 1 ? gate1 : gate2).take_outbox());
    }

    Directory gate1, gate2, backend;
};

}  // namespace

TEST_CASE("a uid bound on a gate is found on another node once its updates arrive") {
    Directory gate(1, dict::LoginPolicy::kick_older);
    Directory backend(2, dict::LoginPolicy::kick_older);
    backend.apply(1, stream_a, gate.snapshot());
    REQUIRE(gate.bind_local("alice", 11).bound);
    CHECK_FALSE(backend.find("alice"));
    relay(gate, backend, 1, stream_a);
    auto where = backend.find("alice");
    REQUIRE(where);
    CHECK(where->gate_id == 1);
    CHECK(where->conn_id == 11);
}

TEST_CASE("updates over a link that is not the gate's current stream are ignored") {
    Directory gate(1, dict::LoginPolicy::kick_older);
    Directory backend(2, dict::LoginPolicy::kick_older);
    backend.apply(1, stream_a, reset());
    gate.bind_local("alice", 11);
    relay(gate, backend, 1, stream_b);
    CHECK_FALSE(backend.find("alice"));
}

TEST_CASE("a gate's entries go when its stream closes, and a new snapshot replaces them all") {
    Directory gate(1, dict::LoginPolicy::kick_older);
    Directory backend(2, dict::LoginPolicy::kick_older);
    backend.apply(1, stream_a, reset());
    gate.bind_local("alice", 11);
    gate.change_room_local(PresenceOp::join, "lobby", "alice", 11);
    relay(gate, backend, 1, stream_a);
    CHECK(backend.room_size("lobby") == 1);
    backend.drop_stream(1, stream_b);  // another link of that gate: nothing happens
    CHECK(backend.find("alice"));
    backend.drop_stream(1, stream_a);
    CHECK_FALSE(backend.find("alice"));
    CHECK(backend.room_size("lobby") == 0);
    // The gate restarted with nobody: its snapshot is a bare reset.
    Directory restarted(1, dict::LoginPolicy::kick_older);
    backend.apply(1, stream_a, gate.snapshot());
    CHECK(backend.find("alice"));
    backend.apply(1, stream_b, restarted.snapshot());
    CHECK_FALSE(backend.find("alice"));
}

TEST_CASE("kick_older: a second login on the same gate names the first as loser") {
    Directory gate(1, dict::LoginPolicy::kick_older);
    gate.bind_local("alice", 11);
    auto second = gate.bind_local("alice", 12);
    REQUIRE(second.bound);
    REQUIRE(second.loser);
    CHECK(second.loser->conn_id == 11);
    // The old connection's close comes later and must not unbind the new session.
    gate.unbind_local("alice", 11);
    REQUIRE(gate.find("alice"));
    CHECK(gate.find("alice")->conn_id == 12);
}

TEST_CASE("refuse_newer: a second login is refused and the first stays") {
    Directory gate(1, dict::LoginPolicy::refuse_newer);
    gate.bind_local("alice", 11);
    auto second = gate.bind_local("alice", 12);
    CHECK_FALSE(second.bound);
    CHECK_FALSE(second.loser);
    CHECK(gate.find("alice")->conn_id == 11);
}

TEST_CASE("across gates the older login loses, whatever order the updates arrive in") {
    for (bool newer_first : {false, true}) {
        CAPTURE(newer_first);
        TwoGates nodes(dict::LoginPolicy::kick_older);
        auto& [gate1, gate2, backend] = nodes;
        gate1.bind_local("alice", 11);  // the older login
        auto from1 = gate1.take_outbox();
        gate2.bind_local("alice", 21);  // the newer one, before gate 2 heard of the first
        auto from2 = gate2.take_outbox();
        if (newer_first) {
            nodes.to_backend(2, from2);
            nodes.to_backend(1, from1);
        } else {
            nodes.to_backend(1, from1);
            nodes.to_backend(2, from2);
        }
        CHECK(backend.find("alice")->gate_id == 2);
        // Gate 1 hears of the newer login and closes its own session; gate 2 keeps its own.
        auto losers1 = gate1.apply(2, stream_a, from2);
        REQUIRE(losers1.size() == 1);
        CHECK(losers1[0].conn_id == 11);
        CHECK(gate2.apply(1, stream_a, from1).empty());
        CHECK(gate2.find("alice")->conn_id == 21);
        // The loser's unbind, arriving last, leaves the winner in place.
        gate1.unbind_local("alice", 11);
        nodes.publish(1);
        CHECK(backend.find("alice")->gate_id == 2);
    }
}

TEST_CASE("refuse_newer: a login made after the holder left holds, whatever order nodes hear") {
    // Gate 1's alice logs in and out; then gate 2's alice logs in. A node may hear gate 2's bind
    // before gate 1's unbind (different links): it must not drop the new login for good.
    for (int newer_at = 0; newer_at < 3; ++newer_at) {
        CAPTURE(newer_at);
        TwoGates nodes(dict::LoginPolicy::refuse_newer);
        auto& [gate1, gate2, backend] = nodes;
        gate1.bind_local("alice", 11);
        auto bind1 = gate1.take_outbox();
        gate1.unbind_local("alice", 11);
        auto unbind1 = gate1.take_outbox();
        REQUIRE(gate2.bind_local("alice", 21).bound);
        auto bind2 = gate2.take_outbox();
        std::vector<std::pair<std::uint32_t, std::vector<PresenceUpdate>>> order{{1, bind1},
                                                                                 {1, unbind1}};
        order.insert(order.begin() + newer_at, {2, bind2});
        for (auto& [gate, updates] : order) CHECK(nodes.to_backend(gate, updates).empty());
        auto where = backend.find("alice");
        REQUIRE(where);
        CHECK(where->gate_id == 2);
        CHECK(where->conn_id == 21);
    }
}

TEST_CASE("refuse_newer: of two logins racing across gates the newer is closed by its gate") {
    TwoGates nodes(dict::LoginPolicy::refuse_newer);
    auto& [gate1, gate2, backend] = nodes;
    gate1.bind_local("alice", 11);
    auto from1 = gate1.take_outbox();
    gate2.bind_local("alice", 21);  // before gate 2 heard of gate 1's login
    auto from2 = gate2.take_outbox();
    nodes.to_backend(2, from2);
    nodes.to_backend(1, from1);
    CHECK(backend.find("alice")->gate_id == 1);
    CHECK(gate1.apply(2, stream_a, from2).empty());
    auto losers2 = gate2.apply(1, stream_a, from1);
    REQUIRE(losers2.size() == 1);
    CHECK(losers2[0].conn_id == 21);
    CHECK(losers2[0].refused);
    CHECK(gate2.find("alice")->gate_id == 1);
    // The loser's close reaches the backend; the holder is untouched.
    gate2.unbind_local("alice", 21);
    nodes.publish(2);
    CHECK(backend.find("alice")->gate_id == 1);
    // Once the holder leaves, nobody holds alice: no claim is left behind.
    gate1.unbind_local("alice", 11);
    nodes.publish(1);
    CHECK_FALSE(backend.find("alice"));
}

TEST_CASE(
    "kick_older: a replaced login of another gate is found again if the winner leaves first") {
    // Gate 2's newer alice replaced gate 1's, which gate 1 has not closed yet; gate 2's alice
    // leaves at once. Gate 1's session is still connected, so it holds alice with its rooms
    // until its own unbind arrives.
    TwoGates nodes(dict::LoginPolicy::kick_older);
    auto& [gate1, gate2, backend] = nodes;
    gate1.bind_local("alice", 11);
    gate1.change_room_local(PresenceOp::join, "lobby", "alice", 11);
    nodes.publish(1);
    gate2.bind_local("alice", 21);
    nodes.publish(2);
    CHECK(backend.find("alice")->gate_id == 2);
    CHECK(backend.room_size("lobby") == 0);
    gate2.unbind_local("alice", 21);
    nodes.publish(2);
    REQUIRE(backend.find("alice"));
    CHECK(backend.find("alice")->gate_id == 1);
    CHECK(backend.members("lobby") == std::vector<std::string>{"alice"});
    gate1.unbind_local("alice", 11);
    nodes.publish(1);
    CHECK_FALSE(backend.find("alice"));
    CHECK(backend.room_size("lobby") == 0);
}

TEST_CASE("a gate's stream closing takes its waiting claims too") {
    TwoGates nodes(dict::LoginPolicy::refuse_newer);
    auto& [gate1, gate2, backend] = nodes;
    gate1.bind_local("alice", 11);
    gate2.bind_local("alice", 21);
    nodes.publish(1);
    nodes.publish(2);
    backend.drop_stream(2, stream_b);  // gate 2 died with its (waiting) alice
    gate1.unbind_local("alice", 11);
    nodes.publish(1);
    CHECK_FALSE(backend.find("alice"));
}

TEST_CASE("rooms: members sorted, targets per gate without the excluded uid, leave on unbind") {
    Directory gate1(1, dict::LoginPolicy::kick_older);
    Directory backend(3, dict::LoginPolicy::kick_older);
    backend.apply(1, stream_a, reset());
    for (auto [uid, conn] : {std::pair{"bob", 12}, {"alice", 11}, {"carol", 13}}) {
        gate1.bind_local(uid, conn);
        gate1.change_room_local(PresenceOp::join, "lobby", uid, conn);
    }
    relay(gate1, backend, 1, stream_a);
    CHECK(backend.members("lobby") == std::vector<std::string>{"alice", "bob", "carol"});
    auto targets = backend.room_targets("lobby", "bob");
    REQUIRE(targets.size() == 1);
    CHECK(targets[0].gate_id == 1);
    CHECK(targets[0].conn_ids.size() == 2);
    gate1.unbind_local("carol", 13);
    relay(gate1, backend, 1, stream_a);
    CHECK(backend.members("lobby") == std::vector<std::string>{"alice", "bob"});
    CHECK_FALSE(gate1.change_room_local(PresenceOp::join, "lobby", "carol", 13));
}

TEST_CASE("uid targets gather online uids per gate and name the offline ones") {
    Directory gate1(1, dict::LoginPolicy::kick_older);
    gate1.bind_local("alice", 11);
    gate1.bind_local("bob", 12);
    std::vector<std::string> offline;
    auto targets = gate1.uid_targets({"alice", "zed", "bob"}, offline);
    CHECK(offline == std::vector<std::string>{"zed"});
    REQUIRE(targets.size() == 1);
    CHECK(targets[0].conn_ids == std::vector<std::uint64_t>{11, 12});
}

TEST_CASE("presence batches round-trip and malformed ones are refused") {
    ByteBuffer batch;
    append_presence(batch, {PresenceOp::bind, 7, 99, "alice", {}});
    append_presence(batch, {PresenceOp::join, 7, 0, "alice", "lobby"});
    auto read = read_presence(batch);
    REQUIRE(read);
    REQUIRE(read->size() == 2);
    CHECK((*read)[1].room == "lobby");
    CHECK((*read)[0].epoch == 99);
    for (std::size_t size = 1; size < batch.size(); ++size) {
        CAPTURE(size);
        auto cut = read_presence(Bytes{batch}.first(size));
        CHECK((!cut || cut->size() < 2));
    }
    ByteBuffer bad{std::byte{9}};
    CHECK_FALSE(read_presence(bad));
}
