#pragma once
// The clients one shard holds, by connection id.

#include "cluster/gate/client_session.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace dinx::cluster {

/// One shard's client sessions. Used on its thread only.
class ClientTable {
public:
    /// The session of `conn_id`, or nullptr.
    ClientSession* find(std::uint64_t conn_id) {
        auto it = sessions_.find(conn_id);
        return it == sessions_.end() ? nullptr : it->second.get();
    }
    /// The session of `conn_id`, shared (for work that outlives the current frame), or null.
    std::shared_ptr<ClientSession> share(std::uint64_t conn_id) const {
        auto it = sessions_.find(conn_id);
        return it == sessions_.end() ? nullptr : it->second;
    }
    /// Holds `session` until remove().
    void add(std::shared_ptr<ClientSession> session) {
        sessions_.emplace(session->conn_id(), std::move(session));
    }
    /// Forgets `conn_id`.
    void remove(std::uint64_t conn_id) { sessions_.erase(conn_id); }
    /// Calls `visit(ClientSession&)` for each session (which must not add or remove any).
    template <class Visit>
    void for_each(Visit&& visit) {
        for (auto& [id, session] : sessions_) visit(*session);
    }
    /// Every session now, for a visit that may close (and so remove) some.
    std::vector<std::shared_ptr<ClientSession>> all() const {
        std::vector<std::shared_ptr<ClientSession>> out;
        out.reserve(sessions_.size());
        for (const auto& [id, session] : sessions_) out.push_back(session);
        return out;
    }

    /// Closes every client with more than `limit` bytes unsent (the process is short of memory).
    void close_backlogged(std::size_t limit) {
        for (auto& session : all()) {
            auto queued = session->transport().queued_bytes();
            if (queued > limit)
                session->close("send queue of " + std::to_string(queued) +
                                   " bytes while the process is over its memory budget",
                               "did not read its replies while memory was short");
        }
    }

private:
    std::unordered_map<std::uint64_t, std::shared_ptr<ClientSession>> sessions_;
};

}  // namespace dinx::cluster
