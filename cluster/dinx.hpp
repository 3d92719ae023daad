#pragma once
// Everything a handler-writing user needs, under the short names of namespace dinx.

#include "cluster/app.hpp"
#include "cluster/context.hpp"
#include "cluster/error_frame.hpp"
#include "node/bytes.hpp"

namespace dinx {
using cluster::App;
using cluster::Context;
using cluster::Handler;
using cluster::Origin;
}  // namespace dinx
