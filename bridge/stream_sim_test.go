package bridge

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand"
	"testing"
)

// simStats counts what the simulation exercised (all seeds together).
var simStats struct{ delivered, lost, dropped, spurious, ticks int }

// simPacket is a packet in flight between two stream tables.
type simPacket struct {
	at   int
	pkt  *sentPacket
	dst  *streamTable
	src  *streamTable
	kind int // 0 deliver, 1 ack, 2 loss notice
}

// streamSim runs streams between a client and a server table over a lossy,
// reordering, duplicating network and checks that every stream delivers
// exactly what was written, in both directions, and that all streams end.
func streamSim(seed int64, zeroCopy bool) error {
	rng := rand.New(rand.NewSource(seed))
	lim := streamLimits{
		MaxData:        uint64(4000 + rng.Intn(60000)),
		BidiLocal:      uint64(1000 + rng.Intn(20000)),
		BidiRemote:     uint64(1000 + rng.Intn(20000)),
		Uni:            uint64(1000 + rng.Intn(20000)),
		MaxStreamsBidi: uint64(1 + rng.Intn(4)),
		MaxStreamsUni:  uint64(1 + rng.Intn(3)),
	}
	mk := func(server bool) *streamTable {
		return newStreamTable(streamsConfig{Server: server, Local: lim, MaxConnWindow: 1 << 20,
			MaxStreamWindow: 1 << 18, SendBuffer: uint64(2000 + rng.Intn(30000)), MaxFrags: uint32(2 + rng.Intn(60))})
	}
	c, s := mk(false), mk(true)
	defer c.free()
	defer s.free()
	c.setPeerLimits(lim)
	s.setPeerLimits(lim)
	loss := rng.Float64() * 0.25
	dup := rng.Float64() * 0.1
	spurious := rng.Float64() * 0.1
	maxDelay := 1 + rng.Intn(8)

	nStreams := 2 + rng.Intn(10)
	type want struct {
		data []byte
		uni  bool
	}
	// Client-side streams to open, with data for each direction.
	plan := make([]want, nStreams)
	for i := range plan {
		plan[i].uni = rng.Intn(3) == 0
		plan[i].data = make([]byte, rng.Intn(40000))
		rng.Read(plan[i].data)
	}
	type cstate struct {
		id      uint64
		written int
		got     []byte // response (bidi)
		done    bool
	}
	var opened []*cstate
	next := 0
	// Server side: received data per stream, response progress.
	srvGot := map[uint64][]byte{}
	srvFin := map[uint64]bool{}
	srvWritten := map[uint64]int{}
	resp := func(id uint64) []byte { // the server echoes the request reversed
		in := srvGot[id]
		out := make([]byte, len(in))
		for i := range in {
			out[len(in)-1-i] = in[i]
		}
		return out
	}
	var inflight []simPacket
	truesize := 0
	if zeroCopy {
		truesize = 1500 + rng.Intn(1000)
	}
	send := func(now int, from, to *streamTable) {
		for k := 0; k < 1+rng.Intn(6); k++ {
			p := from.build(200 + rng.Intn(1300))
			if p == nil {
				return
			}
			d := 1 + rng.Intn(maxDelay)
			if rng.Float64() < loss {
				inflight = append(inflight, simPacket{at: now + d + maxDelay, pkt: p, src: from, kind: 2})
				continue
			}
			inflight = append(inflight, simPacket{at: now + d, pkt: p, dst: to, src: from, kind: 0})
			if rng.Float64() < dup {
				inflight = append(inflight, simPacket{at: now + 1 + rng.Intn(maxDelay), pkt: p, dst: to, src: from, kind: 0})
			}
		}
	}
	for now := 0; now < 200000; now++ {
		c.setTime(uint64(now)*1000, 20000)
		s.setTime(uint64(now)*1000, 20000)
		// Client application: open streams and write.
		for next < len(plan) {
			id, err := c.open(plan[next].uni)
			if err != nil {
				break
			}
			opened = append(opened, &cstate{id: id})
			if rng.Intn(2) == 0 {
				_ = c.setPriority(id, uint8(rng.Intn(8)), rng.Intn(2) == 0)
			}
			next++
		}
		for i, cs := range opened {
			d := plan[i].data
			if cs.written < len(d) || cs.written == len(d) && cs.written >= 0 {
				if cs.written > len(d) {
					continue
				}
				chunk := d[cs.written:]
				if len(chunk) > 5000 {
					chunk = chunk[:rng.Intn(5000)]
				}
				fin := cs.written+len(chunk) == len(d)
				var n int
				var err error
				if zeroCopy && rng.Intn(2) == 0 && len(chunk) > 0 {
					err = c.writeBuf(cs.id, chunk, fin)
					if err == nil {
						n = len(chunk)
					} else if errors.Is(err, engineResult(errnoNOSPC)) {
						err = nil
					}
				} else {
					n, err = c.write(cs.id, chunk, fin)
				}
				if err != nil {
					return fmt.Errorf("client write %d: %v", cs.id, err)
				}
				cs.written += n
				if fin && n == len(chunk) {
					cs.written = len(d) + 1 // fin queued
				}
			}
			if !plan[i].uni && !cs.done {
				b, fin, err := c.read(cs.id, 1+rng.Intn(8000))
				if err != nil && !errors.Is(err, errStreamClosed) {
					return fmt.Errorf("client read %d: %v", cs.id, err)
				}
				cs.got = append(cs.got, b...)
				if fin {
					cs.done = true
				}
			}
		}
		// Server application: accept, read, echo back on bidi streams.
		for {
			id, ok := s.accept()
			if !ok {
				break
			}
			srvGot[id] = []byte{}
		}
		for id := range srvGot {
			if !srvFin[id] {
				b, fin, err := s.read(id, 1+rng.Intn(8000))
				if err != nil {
					return fmt.Errorf("server read %d: %v", id, err)
				}
				srvGot[id] = append(srvGot[id], b...)
				srvFin[id] = fin
			}
			if srvFin[id] && id&2 == 0 {
				r := resp(id)
				w := srvWritten[id]
				if w <= len(r) {
					n, err := s.write(id, r[w:], true)
					if err != nil {
						return fmt.Errorf("server write %d: %v", id, err)
					}
					srvWritten[id] = w + n
					if w+n == len(r) {
						srvWritten[id] = len(r) + 1
					}
				}
			}
		}
		send(now, c, s)
		send(now, s, c)
		// Network.
		rest := inflight[:0]
		var due []simPacket
		for _, p := range inflight {
			if p.at <= now {
				due = append(due, p)
			} else {
				rest = append(rest, p)
			}
		}
		inflight = rest
		rng.Shuffle(len(due), func(i, j int) { due[i], due[j] = due[j], due[i] })
		for _, p := range due {
			switch p.kind {
			case 0:
				r, ft := p.dst.recv(p.pkt.Payload, truesize)
				if r > 0 {
					return fmt.Errorf("recv frame 0x%x: %v", ft, r)
				}
				if r < 0 { // dropped unacknowledged: the sender learns it was lost
					simStats.dropped++
					inflight = append(inflight, simPacket{at: now + maxDelay, pkt: p.pkt, src: p.src, kind: 2})
					continue
				}
				simStats.delivered++
				if rng.Float64() < spurious {
					simStats.spurious++
					p.src.lost(p.pkt)
				}
				inflight = append(inflight, simPacket{at: now + 1 + rng.Intn(maxDelay), pkt: p.pkt, src: p.src, kind: 1})
			case 1:
				p.src.acked(p.pkt)
			case 2:
				simStats.lost++
				p.src.lost(p.pkt)
			}
		}
		c.reap()
		s.reap()
		// Done?
		simStats.ticks++
		if next == len(plan) && len(inflight) == 0 && c.count() == 0 && s.count() == 0 {
			for i, cs := range opened {
				id := cs.id
				if !bytes.Equal(srvGot[id], plan[i].data) {
					return fmt.Errorf("stream %d: server got %d bytes, want %d", id, len(srvGot[id]), len(plan[i].data))
				}
				if !plan[i].uni && !bytes.Equal(cs.got, resp(id)) {
					return fmt.Errorf("stream %d: client got %d response bytes, want %d", id, len(cs.got), len(plan[i].data))
				}
			}
			if len(srvGot) != len(plan) {
				return fmt.Errorf("server saw %d streams, want %d", len(srvGot), len(plan))
			}
			return nil
		}
	}
	return fmt.Errorf("no progress: opened %d/%d, client streams %d, server streams %d, in flight %d",
		next, len(plan), c.count(), s.count(), len(inflight))
}

func TestStreamSimulation(t *testing.T) {
	base := liveBufs()
	seeds := 120
	if testing.Short() {
		seeds = 40
	}
	for seed := int64(1); seed <= int64(seeds); seed++ {
		if err := streamSim(seed, seed%2 == 0); err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
	}
	if liveBufs() != base {
		t.Fatalf("buffers leaked: %d", liveBufs()-base)
	}
	t.Logf("%d seeds: %+v", seeds, simStats)
	if simStats.lost == 0 || simStats.spurious == 0 || simStats.delivered == 0 || simStats.dropped == 0 {
		t.Fatalf("simulation did not exercise loss: %+v", simStats)
	}
}
