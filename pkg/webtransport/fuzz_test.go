package webtransport

import (
	"bufio"
	"bytes"
	"testing"

	"github.com/tquic/tquic/pkg/capsule"
)

func FuzzStreamHeader(f *testing.F) {
	f.Add([]byte{0x40, 0x41, 0x00, 'h', 'i'})
	f.Add([]byte{0x40, 0x54, 0x04})
	f.Add([]byte{0x40, 0x54, 0x80, 0x00, 0x01, 0x00})
	f.Add([]byte{0x41, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := ReadStreamHeader(bufio.NewReader(bytes.NewReader(b)))
		if err != nil {
			return
		}
		if !validSessionID(h.SessionID) {
			t.Fatalf("accepted session ID %d", h.SessionID)
		}
		enc := AppendStreamHeader(nil, h)
		h2, err := ReadStreamHeader(bufio.NewReader(bytes.NewReader(enc)))
		if err != nil || h2 != h {
			t.Fatalf("re-encoding %+v: %+v %v", h, h2, err)
		}
	})
}

func FuzzCapsule(f *testing.F) {
	f.Add(AppendCapsule(nil, CloseSession{Code: 42, Message: "bye"}))
	f.Add(AppendCapsule(nil, DrainSession{}))
	f.Add(AppendCapsule(nil, MaxData{Max: 1 << 20}))
	f.Add(AppendCapsule(nil, MaxStreams{Bidi: true, Max: 10}))
	f.Add(AppendCapsule(nil, StreamsBlocked{Limit: 3}))
	f.Add([]byte{0x80, 0x00, 0x28, 0x43, 0x02, 0x00, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		for len(b) > 0 {
			c, n, err := capsule.Parse(b, maxCapsuleValue)
			if err != nil {
				return
			}
			b = b[n:]
			v, err := ParseCapsule(c)
			if err != nil || v == nil {
				continue
			}
			enc := AppendCapsule(nil, v)
			c2, _, err := capsule.Parse(enc, maxCapsuleValue)
			if err != nil {
				t.Fatalf("re-encoded %#v does not parse: %v", v, err)
			}
			v2, err := ParseCapsule(c2)
			if err != nil || v2 != v {
				t.Fatalf("round trip %#v -> %#v %v", v, v2, err)
			}
		}
	})
}
