-- skynet-cluster, back node: an echo service registered in skynet.cluster as "echo", which
-- returns its argument; the front node's cluster_front calls it for every client frame.
local skynet = require "skynet"
local cluster = require "skynet.cluster"

skynet.start(function()
	skynet.dispatch("lua", function(_, _, payload)
		skynet.ret(skynet.pack(payload))
	end)
	cluster.reload { back = "127.0.0.1:" .. skynet.getenv "dinx_back_port" }
	cluster.register("echo", skynet.self())
	cluster.open "back"
end)
