#pragma once
// Where the link table hands back a request it could not send: to be failed (its client gets
// one error frame, by the way it came) or, never having left, routed again to another node of
// its group. The request lifecycle implements it; the link table never calls the client path.

#include "cluster/api/error.hpp"
#include "cluster/link/envelope.hpp"
#include "cluster/link/pending_window.hpp"
#include "dict/topology.hpp"

#include <optional>
#include <string>

namespace dinx::cluster {

/// What becomes of requests that could not be sent.
class RequestSink {
public:
    virtual ~RequestSink() = default;
    /// `request` ends without a reply: `code` tells its client why.
    virtual void fail(const PendingRequest& request, Error code, const std::string& why) = 0;
    /// `request` never left: send it to another live node of `group`, avoiding `avoid`.
    virtual void reroute(dict::GroupId group, Envelope request, PendingRequest pending,
                         std::optional<std::uint32_t> avoid) = 0;
};

}  // namespace dinx::cluster
