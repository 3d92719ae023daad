-- skynet-1node: one skynet node (thread = 1) whose start service accepts dinx-load's clients
-- and answers each frame with itself (same msgID, same payload), in the order they came:
-- the skynet counterpart of dinx's node-1t row (a gate answering the echo itself).
local skynet = require "skynet"
local socket = require "skynet.socket"
local frames = require "frames"

-- One coroutine per client: frames already received are read without yielding, so a client
-- with D requests in flight gets them answered back to back.
local function serve(fd)
	while true do
		local header, _, payload = frames.read(fd)
		if not header then return end
		socket.write(fd, header .. payload)
	end
end

skynet.start(function()
	frames.listen(tonumber(skynet.getenv "dinx_port"), serve)
end)
