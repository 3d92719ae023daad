// Each peer's links as the node's shards see them: every shard has its own link table, so a
// peer's state is shown as how many shards are in each state, and its counts are summed.

#include "cluster/link/link_table.hpp"
#include "cluster/observe/metric_families.hpp"

#include <array>
#include <map>
#include <string>

namespace dinx::cluster {
namespace {

// The states a link table entry can be in, named as PeerStats names them.
const std::array<std::string_view, 5> states{
    to_string(PeerState::idle), to_string(PeerState::dialing), to_string(PeerState::up),
    to_string(PeerState::leaving), to_string(PeerState::unreachable)};

/// One peer over every shard.
struct PeerRow {
    std::array<std::uint64_t, states.size()> shards_in{};  // shards in each state
    PeerStats sum;                                         // counts added over the shards
};

std::map<std::uint32_t, PeerRow> merge_peers(const std::vector<ShardStats>& shards) {
    std::map<std::uint32_t, PeerRow> peers;
    for (const auto& shard : shards) {
        for (const auto& peer : shard.peers) {
            auto& row = peers[peer.node_id];
            for (std::size_t i = 0; i < states.size(); ++i)
                if (peer.state == states[i]) ++row.shards_in[i];
            row.sum.in_flight += peer.in_flight;
            row.sum.queued += peer.queued;
            row.sum.unsent_bytes += peer.unsent_bytes;
            row.sum.dials += peer.dials;
            row.sum.dial_failures += peer.dial_failures;
            row.sum.handshake_failures += peer.handshake_failures;
            row.sum.dropped += peer.dropped;
        }
    }
    return peers;
}

std::string peer_name(const dict::Topology& topology, std::uint32_t id) {
    if (const auto* node = topology.node(id)) return node->name;
    std::string unknown = "#";  // a node a reload removed (not "#" + ...: g++ 12 -O3 warns)
    return unknown + std::to_string(id);
}

}  // namespace

void write_link_families(PrometheusWriter& out, const std::vector<ShardStats>& shards,
                         const dict::Topology& topology) {
    auto peers = merge_peers(shards);
    std::map<std::uint32_t, std::string> names;
    for (const auto& [id, row] : peers) names[id] = peer_name(topology, id);
    out.family("dinx_link_state", "gauge",
               "Shards of this node whose link table has the peer in each state: idle (no link "
               "yet), dialing, up, leaving (it drains), unreachable (down).");
    for (const auto& [id, row] : peers)
        for (std::size_t i = 0; i < states.size(); ++i)
            out.sample("", {{"peer", names[id]}, {"state", states[i]}}, row.shards_in[i]);
    struct Family {
        const char* name;
        const char* type;
        const char* help;
        std::uint64_t PeerStats::*field;
    };
    static constexpr Family families[] = {
        {"dinx_link_requests_in_flight", "gauge", "Requests sent to the peer and not finished yet.",
         &PeerStats::in_flight},
        {"dinx_link_queued_envelopes", "gauge", "Envelopes waiting for a dial of the peer.",
         &PeerStats::queued},
        {"dinx_link_unsent_bytes", "gauge", "Bytes written to the peer's links and not sent yet.",
         &PeerStats::unsent_bytes},
        {"dinx_link_dials_total", "counter", "Connects started to the peer (first and reconnects).",
         &PeerStats::dials},
        {"dinx_link_dial_failures_total", "counter",
         "Dials of the peer that failed, and its links declared dead.", &PeerStats::dial_failures},
        {"dinx_link_handshake_failures_total", "counter",
         "Links dialed to the peer whose handshake did not complete (refused, timed out).",
         &PeerStats::handshake_failures},
        {"dinx_link_envelopes_dropped_total", "counter",
         "Envelopes (pushes, events; not requests) lost because the peer was unreachable.",
         &PeerStats::dropped},
    };
    for (const auto& family : families) {
        out.family(family.name, family.type, family.help);
        for (const auto& [id, row] : peers)
            out.sample("", {{"peer", names[id]}}, row.sum.*family.field);
    }
}

}  // namespace dinx::cluster
