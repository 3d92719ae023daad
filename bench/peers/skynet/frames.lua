-- dinx-load's client framing on a skynet socket: zinx TLV, [msgID u32][dataLen u32][data], both
-- big-endian. Shared by the services of dinx's bench peers (bench/peers/skynet).
local skynet = require "skynet"
local socket = require "skynet.socket"
local socketdriver = require "skynet.socketdriver"

local frames = {}

-- Listens on 127.0.0.1:port and runs serve(fd) in a coroutine of its own for each client.
function frames.listen(port, serve)
	local listener = socket.listen("127.0.0.1", port)
	socket.start(listener, function(fd)
		skynet.fork(function()
			socket.start(fd)
			-- Small frames answered one by one: Nagle would hold them back (skynet's own
			-- gateserver and cluster links turn it off as well).
			socketdriver.nodelay(fd)
			serve(fd)
			socket.close(fd)
		end)
	end)
end

-- Reads the next frame: its header (8 bytes, as received), msgID and payload; nil once the
-- client has gone.
function frames.read(fd)
	local header = socket.read(fd, 8)
	if not header then return nil end
	local msg_id, len = string.unpack(">I4I4", header)
	local payload = ""
	if len > 0 then
		payload = socket.read(fd, len)
		if not payload then return nil end
	end
	return header, msg_id, payload
end

-- A whole frame: the header then the payload.
function frames.pack(msg_id, payload)
	return string.pack(">I4s4", msg_id, payload)
end

return frames
