-- skynet-cluster, front node: a gate service that reads dinx-load's frames and, for each one,
-- does cluster.call to the back node's echo service, then writes the answer back to the client
-- under the request's msgID: client -> front -> back -> front -> client, the skynet
-- counterpart of dinx's cluster-1im row (client -> gate -> im -> gate -> client).
local skynet = require "skynet"
local socket = require "skynet.socket"
local cluster = require "skynet.cluster"
local frames = require "frames"

-- A client keeps D requests in flight, so each frame's call runs in a coroutine of its own
-- (one at a time, the client would see depth 1). Replies are written in request order, as a
-- client of a gate expects: one that comes back early waits for those before it.
local function serve(fd)
	local replies, sent, received = {}, 0, 0
	local function write_ready()
		while replies[sent + 1] do
			sent = sent + 1
			socket.write(fd, replies[sent])
			replies[sent] = nil
		end
	end
	while true do
		local header, msg_id, payload = frames.read(fd)
		if not header then return end
		received = received + 1
		local seq = received
		skynet.fork(function()
			local ok, echoed = pcall(cluster.call, "back", "@echo", payload)
			if ok then
				replies[seq] = frames.pack(msg_id, echoed)
			else
				-- In its place, an error frame (msgID 0xFFFFFFFF, as a dinx gate's), which the
				-- client counts as an error.
				skynet.error("cluster.call failed: " .. tostring(echoed))
				replies[seq] = frames.pack(0xFFFFFFFF, tostring(echoed))
			end
			write_ready()
		end)
	end
end

skynet.start(function()
	cluster.reload { back = "127.0.0.1:" .. skynet.getenv "dinx_back_port" }
	frames.listen(tonumber(skynet.getenv "dinx_port"), serve)
end)
