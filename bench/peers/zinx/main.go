// zinx-echo: the zinx peer of bench/run.sh's round-trip table. A zinx server (github.com/aceld/zinx,
// its znet package, built by bench/peers/build.sh) that answers every request of one msgID with
// a frame of the same msgID and payload: what dinx-load expects of an echo. zinx's defaults
// otherwise: its TLV big-endian datapack and decoder (dinx-load's framing, byte for byte), its
// worker pool, and the buffered writer goroutine per connection (SendBuffMsg).
package main

import (
	"flag"
	"runtime"

	"github.com/aceld/zinx/zconf"
	"github.com/aceld/zinx/ziface"
	"github.com/aceld/zinx/zlog"
	"github.com/aceld/zinx/znet"
)

// echoRouter sends each request's payload back under its msgID.
type echoRouter struct {
	znet.BaseRouter
}

// Handle queues the echo on the connection's writer, which writes all it has queued and then
// flushes once: zinx's batching path, the faster of its two (SendMsg writes each frame itself).
func (r *echoRouter) Handle(request ziface.IRequest) {
	if err := request.GetConnection().SendBuffMsg(request.GetMsgID(), request.GetData()); err != nil {
		zlog.Ins().ErrorF("echo: %v", err)
	}
}

func main() {
	host := flag.String("host", "127.0.0.1", "address to listen on")
	port := flag.Int("port", 8999, "TCP port to listen on")
	msgID := flag.Uint("msg-id", 6, "msgID answered with an echo")
	procs := flag.Int("procs", 1, "GOMAXPROCS: threads running Go code at once")
	flag.Parse()

	// One thread, as the dinx rows it is compared with (io_threads = 1).
	runtime.GOMAXPROCS(*procs)
	zconf.GlobalObject.Host = *host
	zconf.GlobalObject.TCPPort = *port
	// zinx logs every read and every queued request at debug level: errors only, as in production.
	zconf.GlobalObject.LogIsolationLevel = zlog.LogError
	zlog.SetLogLevel(zlog.LogError)

	server := znet.NewServer()
	server.AddRouter(uint32(*msgID), &echoRouter{})
	server.Serve() // until SIGINT or SIGTERM
}
