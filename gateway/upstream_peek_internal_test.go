//go:build unix

package gateway

import (
	"context"
	"net"
	"testing"
	"time"
)

// idleAlive's peek over real loopback sockets: an idle connection is
// alive until the upstream sends unasked bytes, closes or resets it, and
// the peek leaves the bytes it saw in the socket. Each "not alive" case
// has the "alive" one before it on the same connection.
func TestIdleAlivePeek(t *testing.T) {
	tests := []struct {
		name string
		act  func(t *testing.T, up *net.TCPConn)
	}{
		{"unasked bytes", func(t *testing.T, up *net.TCPConn) {
			if _, err := up.Write([]byte("HTTP/1.1 408 Request Timeout\r\n\r\n")); err != nil {
				t.Fatal(err)
			}
		}},
		{"closed", func(t *testing.T, up *net.TCPConn) { up.Close() }},
		{"reset", func(t *testing.T, up *net.TCPConn) {
			up.SetLinger(0)
			up.Close()
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pc, up := peekPair(t)
			for range 3 {
				if !pc.idleAlive(true) {
					t.Fatal("a quiet idle connection: not alive, want alive")
				}
			}
			tt.act(t, up)
			waitNotAlive(t, pc)
			if tt.name == "unasked bytes" {
				// The peek took nothing: the bytes are still there.
				b := make([]byte, 8)
				if n, err := pc.conn.Read(b); err != nil || string(b[:n]) != "HTTP/1.1" {
					t.Errorf("after the peek: read %q, %v, want %q", b[:n], err, "HTTP/1.1")
				}
			}
		})
	}
}

// Bytes already in the connection's reader make it not alive without a
// look at the socket, and a past read deadline (hostPool.get leaves one
// on: the next exchange arms its own) does not fail the peek.
func TestIdleAliveBufferedAndDeadline(t *testing.T) {
	pc, up := peekPair(t)
	pc.conn.SetReadDeadline(aLongTimeAgo)
	if !pc.idleAlive(true) {
		t.Error("a quiet connection with a past read deadline: not alive, want alive")
	}
	pc.conn.SetReadDeadline(time.Time{})
	up.Write([]byte("ab"))
	if _, err := pc.br.ReadByte(); err != nil {
		t.Fatal(err)
	}
	if pc.idleAlive(true) {
		t.Error("a byte left in the reader: alive, want not alive")
	}
}

// peekPair is an upConn to a loopback listener and the listener's end.
func peekPair(t *testing.T) (*upConn, *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	tr := newUpstreamTransport(Limits{}, nil, nil)
	pc, err := tr.dialAddr(context.Background(), ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.conn.Close() })
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return pc, c.(*net.TCPConn)
}

// waitNotAlive waits for the upstream's bytes or close to reach pc's
// socket: loopback delivers them at once, but not synchronously with
// the write.
func waitNotAlive(t *testing.T, pc *upConn) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); pc.idleAlive(true); {
		if time.Now().After(deadline) {
			t.Fatal("alive 10 s after the upstream's move, want not alive")
		}
		time.Sleep(time.Millisecond)
	}
}
