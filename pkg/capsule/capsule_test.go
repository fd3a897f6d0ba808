package capsule

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

func TestVarintRFC9000Examples(t *testing.T) {
	// RFC 9000 appendix A.1 sample encodings.
	cases := []struct {
		enc []byte
		v   uint64
	}{
		{[]byte{0xc2, 0x19, 0x7c, 0x5e, 0xff, 0x14, 0xe8, 0x8c}, 151288809941952652},
		{[]byte{0x9d, 0x7f, 0x3e, 0x7d}, 494878333},
		{[]byte{0x7b, 0xbd}, 15293},
		{[]byte{0x25}, 37},
	}
	for _, c := range cases {
		v, n, err := ParseVarint(c.enc)
		if err != nil || v != c.v || n != len(c.enc) {
			t.Errorf("ParseVarint(%x) = %d, %d, %v", c.enc, v, n, err)
		}
		if got := AppendVarint(nil, c.v); !bytes.Equal(got, c.enc) {
			t.Errorf("AppendVarint(%d) = %x, want %x", c.v, got, c.enc)
		}
	}
	// The two-byte encoding of 37 is also valid on the wire.
	if v, n, err := ParseVarint([]byte{0x40, 0x25}); v != 37 || n != 2 || err != nil {
		t.Errorf("non-minimal 37: %d %d %v", v, n, err)
	}
	if _, _, err := ParseVarint([]byte{0x80, 1}); err != io.ErrUnexpectedEOF {
		t.Errorf("short varint: %v", err)
	}
}

func TestGrease(t *testing.T) {
	for n := uint64(0); n < 100; n++ {
		if g := GreaseType(n); !IsGrease(g) {
			t.Fatalf("GreaseType(%d)=%#x not grease", n, uint64(g))
		}
	}
	for _, nonGrease := range []Type{0, 1, 2, 3, 0x16, 0x18, 0x2843} {
		if IsGrease(nonGrease) {
			t.Errorf("%#x reported as grease", uint64(nonGrease))
		}
	}
}

func TestRoundTripStream(t *testing.T) {
	var buf bytes.Buffer
	values := [][]byte{nil, []byte("hello"), bytes.Repeat([]byte{7}, 20000)}
	types := []Type{TypeDatagram, GreaseType(3), 0x2843}
	for i := range values {
		if err := Write(&buf, types[i], values[i]); err != nil {
			t.Fatal(err)
		}
	}
	wire := buf.Bytes()

	r := NewReader(bytes.NewReader(wire), 1<<20)
	for i := range values {
		c, err := r.ReadCapsule()
		if err != nil || c.Type != types[i] || !bytes.Equal(c.Value, values[i]) {
			t.Fatalf("capsule %d: %v %#x len %d", i, err, uint64(c.Type), len(c.Value))
		}
	}
	if _, _, err := r.Next(); err != io.EOF {
		t.Fatalf("end: %v", err)
	}

	// Next skips values that were not read.
	r = NewReader(bytes.NewReader(wire), 1<<20)
	for i := range values {
		typ, _, err := r.Next()
		if err != nil || typ != types[i] {
			t.Fatalf("skip %d: %v", i, err)
		}
	}

	// Buffer parser agrees.
	off := 0
	for i := range values {
		c, n, err := Parse(wire[off:], 1<<20)
		if err != nil || c.Type != types[i] || !bytes.Equal(c.Value, values[i]) {
			t.Fatalf("Parse %d: %v", i, err)
		}
		off += n
	}
	if off != len(wire) {
		t.Fatalf("consumed %d of %d", off, len(wire))
	}
}

func TestErrors(t *testing.T) {
	wire := Append(nil, 5, []byte("abcdef"))
	for cut := 1; cut < len(wire); cut++ {
		if _, _, err := Parse(wire[:cut], 100); !errors.Is(err, ErrTruncated) {
			t.Errorf("Parse cut %d: %v", cut, err)
		}
		_, err := NewReader(bytes.NewReader(wire[:cut]), 100).ReadCapsule()
		if !errors.Is(err, ErrTruncated) {
			t.Errorf("ReadCapsule cut %d: %v", cut, err)
		}
	}
	if _, _, err := Parse(wire, 5); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Parse over limit: %v", err)
	}
	if _, err := NewReader(bytes.NewReader(wire), 5).ReadCapsule(); !errors.Is(err, ErrTooLarge) {
		t.Errorf("ReadCapsule over limit: %v", err)
	}
}

func TestDatagram(t *testing.T) {
	d := AppendDatagram(nil, 8, []byte("payload"))
	if !bytes.Equal(d[:1], []byte{2}) {
		t.Fatalf("quarter stream ID byte %x", d[0])
	}
	id, p, err := ParseDatagram(d)
	if err != nil || id != 8 || string(p) != "payload" {
		t.Fatalf("ParseDatagram = %d %q %v", id, p, err)
	}
	if _, _, err := ParseDatagram(nil); err == nil {
		t.Fatal("empty datagram accepted")
	}
	big := AppendVarint(nil, MaxVarint) // quarter ID 2^62-1 means stream ID >= 2^62
	if _, _, err := ParseDatagram(big); err == nil {
		t.Fatal("out-of-range quarter stream ID accepted")
	}
}

func FuzzCapsuleParser(f *testing.F) {
	f.Add(Append(nil, TypeDatagram, []byte("x")))
	f.Add(Append(Append(nil, GreaseType(1), nil), 0x2843, []byte("close")))
	f.Add([]byte{0xc0})
	f.Fuzz(func(t *testing.T, data []byte) {
		const limit = 1 << 12
		var fromBuf []Capsule
		for rest := data; len(rest) > 0; {
			c, n, err := Parse(rest, limit)
			if err != nil {
				break
			}
			fromBuf = append(fromBuf, c)
			rest = rest[n:]
		}
		r := NewReader(bytes.NewReader(data), limit)
		for i := 0; ; i++ {
			c, err := r.ReadCapsule()
			if err != nil {
				if i != len(fromBuf) {
					t.Fatalf("stream parser stopped after %d capsules, buffer parser after %d (%v)", i, len(fromBuf), err)
				}
				break
			}
			if i >= len(fromBuf) || c.Type != fromBuf[i].Type || !bytes.Equal(c.Value, fromBuf[i].Value) {
				t.Fatalf("capsule %d differs between parsers", i)
			}
			// Re-encoding a parsed capsule parses back to the same capsule.
			again, _, err := Parse(Append(nil, c.Type, c.Value), limit)
			if err != nil || again.Type != c.Type || !bytes.Equal(again.Value, c.Value) {
				t.Fatalf("re-encode of capsule %d: %v", i, err)
			}
		}
	})
}
