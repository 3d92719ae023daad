// A zinx client, built from zinx's own znet package, that speaks the demo conversation to a
// dinx gate: the proof that "zinx's TLV, byte for byte" holds for a real zinx client, not only
// for our reading of its source. Run by tests/zinx/run.sh; not part of CI (it needs zinx's
// source and a Go toolchain).
package main

import (
	"flag"
	"fmt"
	"os"
	"regexp"
	"time"

	"github.com/aceld/zinx/zconf"
	"github.com/aceld/zinx/ziface"
	"github.com/aceld/zinx/znet"
)

// step is one request of the conversation and the reply that proves it worked.
type step struct {
	msgID   uint32
	payload string
	replyID uint32
	expect  *regexp.Regexp
}

// frame is one message the gate sent.
type frame struct {
	msgID   uint32
	payload string
}

// collector is a zinx router that hands every frame it gets to the conversation.
type collector struct {
	znet.BaseRouter
	frames chan<- frame
}

// Handle passes the frame on.
func (c *collector) Handle(request ziface.IRequest) {
	c.frames <- frame{request.GetMsgID(), string(request.GetData())}
}

const errorMsgID = 4294967295

func conversation(name string) []step {
	return []step{
		{1, name, 1, regexp.MustCompile("^welcome " + name + "$")},
		{3, "hi from zinx", 3, regexp.MustCompile(`^im-\d: hi from zinx$`)},
		{4, "hello all", 4, regexp.MustCompile("^" + name + ": hello all$")},
		{5, "relay me", 5, regexp.MustCompile(`^im-\d via im-\d: relay me$`)},
		{77, "nobody routes this", errorMsgID, regexp.MustCompile(`"code": "no_route"`)},
		{2, "", 2, regexp.MustCompile("^bye " + name + "$")},
		// Logged out, the player may no longer send: the demo's interceptor refuses it.
		{3, "still here", errorMsgID, regexp.MustCompile(`"code": "unauthenticated"`)},
	}
}

func main() {
	host := flag.String("host", "127.0.0.1", "gate host")
	port := flag.Int("port", 10000, "gate client port")
	name := flag.String("name", "gopher", "login name")
	flag.Parse()

	frames := make(chan frame, 64)
	connected := make(chan ziface.IConnection, 1)
	client := znet.NewClient(*host, *port)
	for _, id := range []uint32{1, 2, 3, 4, 5, errorMsgID} {
		client.AddRouter(id, &collector{frames: frames})
	}
	// zinx's heartbeat: msgID 99999 every interval, and the connection is stopped when nothing
	// arrived for HeartbeatMax seconds. So a quiet gate must answer heartbeats.
	zconf.GlobalObject.HeartbeatMax = 1
	client.StartHeartBeat(250 * time.Millisecond)
	client.SetOnConnStart(func(conn ziface.IConnection) { connected <- conn })
	client.Start()
	defer client.Stop()

	var conn ziface.IConnection
	select {
	case conn = <-connected:
	case <-time.After(5 * time.Second):
		fmt.Println("could not connect")
		os.Exit(1)
	}
	passed := 0
	steps := conversation(*name)
	for i, s := range steps {
		if i == len(steps)-1 {
			// Quiet for twice HeartbeatMax: only heartbeats keep the connection.
			fmt.Println("(quiet for 2 s: heartbeats only)")
			time.Sleep(2 * time.Second)
		}
		if err := conn.SendMsg(s.msgID, []byte(s.payload)); err != nil {
			fmt.Println("send failed:", err)
			os.Exit(1)
		}
		fmt.Printf("> %d %s\n", s.msgID, s.payload)
		select {
		case f := <-frames:
			fmt.Printf("< %d %s\n", f.msgID, f.payload)
			if f.msgID == s.replyID && s.expect.MatchString(f.payload) {
				passed++
			} else {
				fmt.Printf("  expected msgID %d matching %s\n", s.replyID, s.expect)
			}
		case <-time.After(5 * time.Second):
			fmt.Println("  no reply within 5 s")
		}
	}
	fmt.Printf("%d/%d replies as expected (zinx client)\n", passed, len(steps))
	if passed != len(steps) {
		os.Exit(1)
	}
}
