#pragma once
// Everything a handler-writing user needs, under the short names of namespace dinx. It includes
// no asio and no internal type: what a game links against is this, App and Context.

#include "cluster/api/app.hpp"
#include "cluster/api/call.hpp"
#include "cluster/api/context.hpp"
#include "cluster/api/error.hpp"
#include "cluster/api/handler.hpp"
#include "cluster/api/interceptor.hpp"
#include "cluster/api/session.hpp"
#include "cluster/api/session_event.hpp"
#include "node/bytes.hpp"

namespace dinx {
using cluster::App;
using cluster::call_failure;
using cluster::CallError;
using cluster::CallFailure;
using cluster::CallReply;
using cluster::CallTarget;
using cluster::CoroutineHandler;
using cluster::Method;
using cluster::MethodId;
using cluster::MethodRef;
using cluster::NodeReply;
using cluster::PlainMethod;
using cluster::Result;
using cluster::Task;
using cluster::when_all;
using cluster::ClientFrame;
using cluster::DisconnectReason;
using cluster::Context;
using cluster::Error;
using cluster::FrameFormat;
using cluster::FrameHeader;
using cluster::Handler;
using cluster::Interceptor;
using cluster::max_room_name;
using cluster::max_session_bytes;
using cluster::max_session_key;
using cluster::max_session_rooms;
using cluster::max_session_value;
using cluster::max_session_values;
using cluster::max_uid_size;
using cluster::Origin;
using cluster::Session;
using cluster::SessionValues;
using cluster::SessionEvent;
using cluster::SessionEventHandler;
using cluster::SessionEventKind;
using cluster::Verdict;
}  // namespace dinx
