package webtransport

import (
	"bufio"
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/tquic/tquic/pkg/capsule"
)

func TestErrorCodeMapping(t *testing.T) {
	cases := []struct {
		app  StreamErrorCode
		http uint64
	}{
		{0, 0x52e4a40fa8db},
		{1, 0x52e4a40fa8dc},
		{0x1d, 0x52e4a40fa8db + 0x1d},
		{0x1e, 0x52e4a40fa8db + 0x1e + 1},
		{0xffffffff, 0x52e5ac983162},
	}
	for _, c := range cases {
		if got := CodeToHTTP(c.app); got != c.http {
			t.Errorf("CodeToHTTP(%#x) = %#x, want %#x", c.app, got, c.http)
		}
		back, err := CodeFromHTTP(c.http)
		if err != nil || back != c.app {
			t.Errorf("CodeFromHTTP(%#x) = %#x, %v", c.http, back, err)
		}
	}
	// No mapped code is a reserved codepoint, and every one maps back.
	for _, n := range []StreamErrorCode{0, 1, 2, 29, 30, 31, 1000, 1 << 20, 0xfffffffe, 0xffffffff} {
		h := CodeToHTTP(n)
		if (h-0x21)%0x1f == 0 {
			t.Errorf("code %d maps to reserved %#x", n, h)
		}
	}
	for s := uint64(0); s < 2000; s++ {
		h := firstErrorCode + s
		n, err := CodeFromHTTP(h)
		if (h-0x21)%0x1f == 0 {
			if err == nil {
				t.Fatalf("reserved %#x accepted", h)
			}
			continue
		}
		if err != nil || CodeToHTTP(n) != h {
			t.Fatalf("round trip of %#x: %d %v", h, n, err)
		}
	}
	if _, err := CodeFromHTTP(0x100); err == nil {
		t.Error("H3_NO_ERROR accepted as an application code")
	}
	if _, err := CodeFromHTTP(lastErrorCode + 1); err == nil {
		t.Error("code past the range accepted")
	}
}

func TestCapsuleRoundTrip(t *testing.T) {
	values := []any{
		CloseSession{Code: 0xdeadbeef, Message: "bye ✓"},
		CloseSession{},
		DrainSession{},
		MaxData{Max: 1 << 40},
		MaxStreams{Bidi: true, Max: 100},
		MaxStreams{Max: 1 << 60},
		DataBlocked{Limit: 5},
		StreamsBlocked{Bidi: true, Limit: 9},
		StreamsBlocked{Limit: 0},
	}
	var buf []byte
	for _, v := range values {
		buf = AppendCapsule(buf, v)
	}
	r := capsule.NewReader(bytes.NewReader(buf), maxCapsuleValue)
	for _, want := range values {
		c, err := r.ReadCapsule()
		if err != nil {
			t.Fatal(err)
		}
		got, err := ParseCapsule(c)
		if err != nil || got != want {
			t.Fatalf("got %#v, %v; want %#v", got, err, want)
		}
	}
	// Long messages are cut at a character boundary.
	long := strings.Repeat("é", 600)
	c, _, err := capsule.Parse(AppendCapsule(nil, CloseSession{Message: long}), maxCapsuleValue)
	if err != nil {
		t.Fatal(err)
	}
	v, err := ParseCapsule(c)
	if err != nil || len(v.(CloseSession).Message) != 1024 {
		t.Fatalf("truncated close: %v len %d", err, len(v.(CloseSession).Message))
	}
}

func TestMalformedCapsules(t *testing.T) {
	bad := []capsule.Capsule{
		{Type: CapsuleCloseSession, Value: []byte{0, 0, 1}},
		{Type: CapsuleCloseSession, Value: append([]byte{0, 0, 0, 1}, bytes.Repeat([]byte("a"), 1025)...)},
		{Type: CapsuleCloseSession, Value: []byte{0, 0, 0, 1, 0xff}},
		{Type: CapsuleDrainSession, Value: []byte{1}},
		{Type: CapsuleMaxData, Value: nil},
		{Type: CapsuleMaxData, Value: []byte{1, 2}},
		{Type: CapsuleMaxStreamsBidi, Value: capsule.AppendVarint(nil, 1<<60+1)},
		{Type: CapsuleStreamsBlockedUni, Value: []byte{0x40}},
		{Type: capsuleMaxStreamData, Value: []byte{1}},
	}
	for _, c := range bad {
		if v, err := ParseCapsule(c); !errors.Is(err, ErrMalformedCapsule) {
			t.Errorf("capsule %#x % x: got %v, %v", uint64(c.Type), c.Value, v, err)
		}
	}
	if v, err := ParseCapsule(capsule.Capsule{Type: 0x1234, Value: []byte{1}}); v != nil || err != nil {
		t.Errorf("unknown capsule: %v %v", v, err)
	}
}

func TestStreamHeader(t *testing.T) {
	for _, h := range []StreamHeader{{SessionID: 0}, {Uni: true, SessionID: 4}, {SessionID: 1 << 40}} {
		b := AppendStreamHeader(nil, h)
		got, err := ReadStreamHeader(bufio.NewReader(bytes.NewReader(b)))
		if err != nil || got != h {
			t.Fatalf("%+v: got %+v %v", h, got, err)
		}
	}
	for _, b := range [][]byte{
		{},
		{0x40, 0x41},       // bidi signal, no session ID
		{0x40, 0x54, 0x01}, // session ID 1 is not a client bidi stream
		{0x02, 0x00},       // another type
		{0x40, 0x41, 0x80}, // truncated varint
	} {
		if _, err := ReadStreamHeader(bufio.NewReader(bytes.NewReader(b))); !errors.Is(err, ErrBadStreamHeader) {
			t.Errorf("% x: %v", b, err)
		}
	}
}

func TestFlowControlCredit(t *testing.T) {
	l := newRecvLimit(100, "bytes")
	if err := l.use(100); err != nil {
		t.Fatal(err)
	}
	if err := l.use(1); !errors.Is(err, ErrFlowControl) {
		t.Fatalf("over limit: %v", err)
	}
	if m := l.release(40); m != 0 {
		t.Fatalf("early update to %d", m)
	}
	if m := l.release(20); m != 160 {
		t.Fatalf("update to %d, want 160", m)
	}
	if err := l.use(60); err != nil {
		t.Fatal(err)
	}
	c := newSendCredit(10)
	blocked := 0
	done := make(chan struct{})
	got, err := c.take(t.Context(), 25, done, func(uint64) { blocked++ })
	if err != nil || got != 10 {
		t.Fatalf("take: %d %v", got, err)
	}
	c.raise(5) // smaller limits are ignored
	close(done)
	if _, err := c.take(t.Context(), 1, done, func(uint64) { blocked++ }); !errors.Is(err, ErrSessionGone) || blocked != 1 {
		t.Fatalf("blocked take: %v, blocked %d", err, blocked)
	}
}
