package bridge

import (
	"testing"
)

// fuzzReader hands out bytes of the fuzz input, zeroes once exhausted.
type fuzzReader struct {
	b []byte
}

func (r *fuzzReader) byte() byte {
	if len(r.b) == 0 {
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

func (r *fuzzReader) more() bool { return len(r.b) > 0 }

// FuzzRecovery drives one recovery instance with random sends, ACKs
// (valid and invalid), timeouts, skipped PNs, space discards and ECN
// feedback, checking the in-flight accounting after every step.
func FuzzRecovery(f *testing.F) {
	f.Add([]byte{0, 0, 10, 0, 0, 10, 0, 0, 10, 1, 2, 0, 0, 0})
	f.Add([]byte{0, 2, 200, 0, 2, 200, 2, 50, 2, 90, 1, 2, 1, 1, 0, 3})
	f.Add([]byte{5, 1, 0, 0, 0, 0, 1, 0, 1, 1, 4, 0, 0, 0, 3, 0, 6})
	f.Fuzz(func(t *testing.T, data []byte) {
		in := &fuzzReader{b: data}
		cc := "cubic"
		if in.byte()&1 == 1 {
			cc = "newreno"
		}
		p, err := newRecPath(cc, 1200, in.byte()&1 == 1, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer p.free()
		p.setMaxTracked(64)
		var (
			now      uint64
			nextPN   [3]uint64
			out      = [3]map[uint64]uint32{{}, {}, {}} // in-flight records by PN
			outBytes uint64
			sentSum  uint64
		)
		settle := func() {
			for _, e := range p.events() {
				sz, ok := out[e.Space][e.PN]
				switch {
				case ok:
					delete(out[e.Space], e.PN)
					outBytes -= uint64(sz)
				case e.Kind == evAcked && e.Flags&sentLost != 0:
				case e.Flags&sentInFlight != 0:
					t.Fatalf("event %+v for a packet not in flight", e)
				}
			}
			bif := p.bytesInFlight()
			if bif != outBytes || bif > sentSum || bif > 1<<40 {
				t.Fatalf("bytes in flight %d, model %d, ever sent %d", bif, outBytes, sentSum)
			}
			var sum uint64
			for sp := 0; sp < 3; sp++ {
				sum += p.spaceInFlight(sp)
			}
			if sum != bif {
				t.Fatalf("per-space in flight %d != %d", sum, bif)
			}
			st := p.stats()
			if st.BytesSent-st.BytesAcked-st.BytesLost-st.BytesDiscarded != bif {
				t.Fatalf("stats %+v do not add up to %d in flight", st, bif)
			}
			if live, dbl := p.frameHandles(); dbl != 0 || live > st.PktsSent {
				t.Fatalf("frame handles live %d double %d", live, dbl)
			}
			if p.cwnd() < 2*1200 {
				t.Fatalf("cwnd %d below the minimum", p.cwnd())
			}
		}
		for steps := 0; in.more() && steps < 400; steps++ {
			op := in.byte() % 8
			sp := int(in.byte() % 3)
			now += uint64(in.byte()) * ms / 4
			switch op {
			case 0, 1: // send
				size := 1 + int(in.byte())*5
				flags := sentData
				if in.byte()&3 == 0 {
					flags = sentHasAck
				}
				ecn := in.byte() & 3
				err := p.sent(sp, nextPN[sp], now, size, flags, ecn, 0, nextPN[sp]+1)
				if err == nil {
					if flags&sentInFlight != 0 {
						out[sp][nextPN[sp]] = uint32(size)
						outBytes += uint64(size)
						sentSum += uint64(size)
					}
				}
				nextPN[sp]++
			case 2, 3: // ACK
				largest := uint64(in.byte()) % (nextPN[sp] + 3)
				var ranges [][2]uint64
				hi := largest
				for n := in.byte() % 5; ; n-- {
					lo := hi - min(hi, uint64(in.byte()%8))
					ranges = append(ranges, [2]uint64{hi, lo})
					gap := uint64(in.byte()%4) + 2
					if n == 0 || lo < gap {
						break
					}
					hi = lo - gap
				}
				types := []FrameType{FrameAck, FrameAckECN, FrameAccurateAckECN, FramePathAck}
				typ := types[in.byte()%4]
				fr := ackFrame{Type: typ, Ranges: ranges, Delay: uint64(in.byte()),
					ECT0: uint64(in.byte() % 16), CE: uint64(in.byte() % 4)}
				if typ == FrameAccurateAckECN {
					for range ranges {
						fr.Marks = append(fr.Marks, in.byte()&3)
					}
				}
				code, err := p.ack(sp, fr, now)
				if err != nil {
					t.Fatalf("ack %+v: %v", fr, err)
				}
				if code != 0 && code != CodeProtocolViolation {
					t.Fatalf("ack error code %#x", code)
				}
			case 4: // timers
				if d := p.deadline(); d != timeNone && d >= now {
					now = d
				}
				p.timeout(now)
			case 5:
				switch in.byte() % 6 {
				case 0:
					p.confirmHandshake(now)
				case 1:
					p.handshakeKeys(now)
				case 2:
					p.setECN(true)
				case 3:
					p.appLimited()
				case 4:
					p.setAmpBlocked(in.byte()&1 == 1, now)
				case 5:
					_ = p.skip(sp, nextPN[sp])
					nextPN[sp]++
				}
			case 6:
				if sp != spaceApp {
					p.discard(sp, now)
				}
			case 7:
				// Large time jumps exercise PTO backoff saturation.
				now += uint64(in.byte()) * 1000 * ms
				p.timeout(now)
			}
			settle()
			if p.deadline() != timeNone && p.timerKind() == timerNone {
				t.Fatal("deadline without a timer kind")
			}
		}
	})
}

// FuzzAckMgr feeds random packet numbers, ACK emission, ACK-of-ACK and
// ACK_FREQUENCY to the receive side; every emitted ACK must decode to
// descending disjoint ranges within the cap and cover only received PNs.
func FuzzAckMgr(f *testing.F) {
	f.Add([]byte{0, 1, 0, 2, 0, 5, 1, 0, 0, 9, 2, 0})
	f.Add([]byte{3, 1, 0, 200, 0, 100, 0, 150, 1, 4, 0, 90, 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		in := &fuzzReader{b: data}
		a := newAckMgr(0, 25*ms, 3)
		defer a.free()
		if in.byte()&1 == 1 {
			a.setAccurateECN(true)
		}
		maxR := uint32(in.byte()%32) + 1
		a.setMaxRanges(maxR)
		received := map[uint64]bool{}
		var now, base uint64
		for steps := 0; in.more() && steps < 500; steps++ {
			now += uint64(in.byte()) * us * 100
			switch in.byte() % 4 {
			case 0, 1:
				pn := base + uint64(in.byte())
				if in.byte()&7 == 0 {
					base += 200
				}
				dup := a.isDuplicate(spaceApp, pn)
				fresh, err := a.onPacket(spaceApp, pn, in.byte()&1 == 0, in.byte()&3, now)
				if err != nil {
					t.Fatal(err)
				}
				if fresh == dup {
					t.Fatalf("pn %d: fresh %v but isDuplicate %v", pn, fresh, dup)
				}
				if received[pn] && fresh {
					t.Fatalf("pn %d accepted twice", pn)
				}
				if fresh {
					received[pn] = true
				}
			case 2:
				wire, err := a.emit(spaceApp, now, uint32(in.byte()%40), in.byte()&1 == 0)
				if err != nil {
					t.Fatal(err)
				}
				if wire == nil {
					continue
				}
				fs, err := DecodeFrames(wire)
				if err != nil || len(fs) != 1 {
					t.Fatalf("emitted ACK %x does not decode: %v", wire, err)
				}
				rs := fs[0].AckRanges
				if len(rs) == 0 || len(rs) > int(maxR) {
					t.Fatalf("%d ranges with cap %d", len(rs), maxR)
				}
				for i, r := range rs {
					if i > 0 && r.Largest >= rs[i-1].Smallest {
						t.Fatalf("ranges not descending: %+v", rs)
					}
					for pn := r.Smallest; pn <= r.Largest; pn++ {
						if !received[pn] {
							t.Fatalf("ACK covers pn %d never received", pn)
						}
					}
				}
			case 3:
				if in.byte()&1 == 0 {
					a.onAckAcked(spaceApp, base+uint64(in.byte()))
				} else {
					a.ackFrequency(uint64(in.byte()), uint64(in.byte()%12), uint64(in.byte())*1000,
						uint64(in.byte()%4), now)
				}
			}
			if d := a.deadline(); d != timeNone && d > now+1000*ms*1000 {
				t.Fatalf("deadline %d far beyond now %d", d, now)
			}
		}
	})
}
