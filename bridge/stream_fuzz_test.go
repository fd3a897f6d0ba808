package bridge

import (
	"encoding/binary"
	"testing"
)

// fuzzByte is the content of stream offset o in the reassembly fuzzer, so
// any frame the fuzzer makes up carries consistent data.
func fuzzByte(o uint64) byte { return byte(o*31 + o>>8 + 7) }

// FuzzStreamReassembly drives a reassembly buffer with arbitrary frames
// (offset, length, copy or zero-copy, reads) and checks that the bytes read
// come out in order and intact, and that memory stays bounded.
func FuzzStreamReassembly(f *testing.F) {
	f.Fuzz(func(t *testing.T, ops []byte) {
		base := liveBufs()
		const memLimit = 32 << 10
		const maxFrags = 64
		r := newReasm(memLimit, maxFrags)
		defer func() {
			r.free()
			if liveBufs() != base {
				t.Fatalf("buffers leaked: %d", liveBufs()-base)
			}
		}()
		var next uint64 // next offset expected from reads
		allOK := true
		covered := map[uint64]bool{}
		for len(ops) >= 5 {
			off := uint64(binary.LittleEndian.Uint16(ops[0:2]))
			n := uint64(ops[2]) * uint64(1+ops[3]&7)
			flags := ops[4]
			ops = ops[5:]
			data := make([]byte, n)
			for i := range data {
				data[i] = fuzzByte(off + uint64(i))
			}
			res := r.insert(off, data, flags&1 != 0, int(flags>>4), 1500+int(flags&0x0e)*100)
			switch {
			case res == 0:
				for i := uint64(0); i < n; i++ {
					covered[off+i] = true
				}
			case int(res) == errnoNOBUFS:
				allOK = false
			default:
				t.Fatalf("insert(%d, %d): %v", off, n, res)
			}
			readable := r.readable()
			if r.mem() > memLimit+80*readable || uint64(r.frags()) > maxFrags+readable {
				t.Fatalf("mem %d frags %d readable %d", r.mem(), r.frags(), readable)
			}
			if flags&2 != 0 {
				got := r.read(int(flags) * 8)
				for i, b := range got {
					if b != fuzzByte(next+uint64(i)) {
						t.Fatalf("byte at %d: %x", next+uint64(i), b)
					}
				}
				next += uint64(len(got))
			}
		}
		got := r.read(1 << 20)
		for i, b := range got {
			if b != fuzzByte(next+uint64(i)) {
				t.Fatalf("byte at %d: %x", next+uint64(i), b)
			}
		}
		next += uint64(len(got))
		if allOK {
			want := uint64(0)
			for covered[want] {
				want++
			}
			if next != want {
				t.Fatalf("read %d bytes, %d were contiguous", next, want)
			}
		}
		if r.buffered() > 0 && r.readable() > 0 {
			t.Fatal("readable data left after reading everything")
		}
	})
}

// FuzzStreamFrames feeds arbitrary packet payloads to a server stream
// table: every outcome is a valid QUIC error code or success, nothing
// leaks, and memory stays within the flow-control bounds.
func FuzzStreamFrames(f *testing.F) {
	f.Fuzz(func(t *testing.T, payload []byte, zeroCopy bool) {
		base := liveBufs()
		lim := streamLimits{MaxData: 1 << 16, BidiLocal: 1 << 12, BidiRemote: 1 << 12, Uni: 1 << 12,
			MaxStreamsBidi: 8, MaxStreamsUni: 4}
		s := newStreamTable(streamsConfig{Server: true, Local: lim, MaxConnWindow: 1 << 18,
			MaxStreamWindow: 1 << 14, SendBuffer: 1 << 14, MaxFrags: 32})
		s.setPeerLimits(lim)
		truesize := 0
		if zeroCopy {
			truesize = 2048
		}
		// Split the payload into packets at 0xff bytes so one input
		// exercises several.
		start := 0
		for i := 0; i <= len(payload); i++ {
			if i < len(payload) && payload[i] != 0xff {
				continue
			}
			pkt := payload[start:i]
			start = i + 1
			r, _ := s.recv(pkt, truesize)
			if r > 0 {
				switch uint64(r) {
				case codeFlowControl, codeStreamLimit, codeStreamState, codeFinalSize,
					codeFrameEncodingErr, CodeProtocolViolation:
				default:
					t.Fatalf("unexpected error %v", r)
				}
				break
			}
			if r < 0 && int(r) != errnoNOBUFS && int(r) != errnoNOMEM {
				t.Fatalf("unexpected errno %v", r)
			}
			// Answer whatever the table wants to send.
			for k := 0; k < 64; k++ {
				p := s.build(1200)
				if p == nil {
					break
				}
				if _, err := DecodeFrames(p.Payload); err != nil {
					t.Fatalf("engine built an undecodable payload: %v", err)
				}
				s.acked(p)
			}
			for {
				id, ok := s.accept()
				if !ok {
					break
				}
				if _, _, err := s.read(id, 1<<16); err != nil && int(err.(engineResult)) != errnoCONNRESET {
					t.Fatalf("read: %v", err)
				}
			}
		}
		_, highest, _, _ := s.connRx()
		if highest > 1<<18 {
			t.Fatalf("connection credit %d beyond any window", highest)
		}
		s.free()
		if liveBufs() != base {
			t.Fatalf("buffers leaked: %d", liveBufs()-base)
		}
	})
}
