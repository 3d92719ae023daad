#pragma once
// The requests a link sent and that are not finished yet, by sequence number. Seqs are handed
// out in order and mostly finish in order, so a ring of slots does the job of a hash map with
// no allocation per request. A request that stays unfinished while the ring fills up (a slow
// forward) moves to a side table, so one straggler cannot make the ring grow without bound.

#include "dict/topology.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

namespace dinx::cluster {

class Link;

/// A request sent on a link and not finished yet. Its answers go back the way it came: to
/// `upstream` (the link it continues) when set, else to the client when this node is the
/// client's gate, else (a forward made after the request was answered) as pushes.
struct PendingRequest {
    std::uint32_t gate_id = 0;       ///< the client to tell if it fails: its gate
    std::uint64_t conn_id = 0;       ///< and its connection
    std::uint32_t msg_id = 0;        ///< the request's msgID, quoted in an error frame
    std::weak_ptr<Link> upstream;    ///< when this request continues one that came over a link
    std::uint64_t upstream_seq = 0;  ///< that request's seq on `upstream`
    dict::GroupId group = 0;         ///< the group it was routed to (when pinned)
    bool pinned = false;             ///< counted in its client's RoutePin (route_pin.hpp)
    bool counted = false;            ///< counted in its client's requests in flight (the gate's)
    bool answered = false;           ///< a frame for the client already went back
    std::uint32_t payload_size = 0;  ///< its payload, as counted in its client's bytes in flight
    std::uint64_t queued_until = 0;  ///< the link's bytes_queued_total() once it was queued
    /// When a gate sent its client's request, if its latency is measured (metrics on); else
    /// the epoch.
    std::chrono::steady_clock::time_point sent_at{};
};

/// Unfinished requests of one link, keyed by the seq this window hands out (1, 2, 3 ...).
class PendingWindow {
public:
    /// `ring_limit` slots at most before the oldest unfinished request moves aside.
    explicit PendingWindow(std::size_t ring_limit = 1 << 16);

    /// Remembers `request`; returns its seq.
    std::uint64_t add(PendingRequest request);
    /// Forgets request `seq` and returns it; nullopt when unknown or already finished.
    std::optional<PendingRequest> finish(std::uint64_t seq);
    /// Request `seq` while it is unfinished, else nullptr.
    PendingRequest* find(std::uint64_t seq);
    /// Removes every unfinished request, in seq order.
    std::vector<std::pair<std::uint64_t, PendingRequest>> take_all();
    /// Number of unfinished requests.
    std::size_t size() const { return live_ + stragglers_.size(); }

private:
    std::optional<PendingRequest>& slot(std::uint64_t seq) {
        return ring_[seq & (ring_.size() - 1)];
    }
    /// Makes room for one more seq: grows the ring, or moves the oldest request aside.
    void make_room();
    /// Advances first_ past finished slots.
    void skip_finished();

    std::vector<std::optional<PendingRequest>> ring_;  // size is a power of two
    std::size_t ring_limit_;
    std::uint64_t first_ = 1;  // oldest seq the ring still covers
    std::uint64_t next_ = 1;   // seq of the next request
    std::size_t live_ = 0;     // unfinished requests in the ring
    std::unordered_map<std::uint64_t, PendingRequest> stragglers_;
};

}  // namespace dinx::cluster
