package bridge

import (
	"testing"
)

// FuzzCIDFrames runs arbitrary sequences of NEW_CONNECTION_ID,
// RETIRE_CONNECTION_ID (plain and PATH_), picks, voluntary retirements and
// frame outcomes against a CID manager and checks its invariants.
func FuzzCIDFrames(f *testing.F) {
	f.Fuzz(func(t *testing.T, ops []byte) {
		const limit = 3
		c, err := newCIDTable(cidsConfig{CIDLen: 6, ActiveLimit: limit, IssueCap: 4, Multipath: true, MaxPathID: 2})
		if err != nil {
			t.Fatal(err)
		}
		defer c.free()
		if err := c.localAdd(0, 0, []byte{0xee, 0, 0, 0, 0, 0}, nil); err != nil {
			t.Fatal(err)
		}
		if err := c.peerSetInitial([]byte{0xdd, 1, 2, 3}); err != nil {
			t.Fatal(err)
		}
		c.setPeerLimit(3)
		var sent []*Frame
		for len(ops) >= 4 {
			op, a, b, d := ops[0]%8, ops[1], ops[2], ops[3]
			ops = ops[4:]
			path := uint64(a % 4)
			pathFrame := a&0x80 != 0
			var res engineResult
			switch op {
			case 0, 1: // NEW_CONNECTION_ID
				seq := uint64(b % 16)
				rpt := uint64(d % 16)
				var tok [16]byte
				tok[0] = d
				res = c.onNewCID(pathFrame, path, seq, rpt, []byte{byte(path), byte(seq), d & 3, 9}, tok)
			case 2: // RETIRE_CONNECTION_ID
				res = c.onRetire(pathFrame, path, uint64(b%16), uint32(d%3), uint64(d>>4))
			case 3:
				if seq, _, ok := c.peerPick(uint32(path), uint32(b%3)); ok && d&1 != 0 {
					if err := c.peerRetire(uint32(path), seq); err != nil {
						t.Fatalf("retire picked %d: %v", seq, err)
					}
				}
			case 4:
				if _, err := c.localIssue(uint32(path % 3)); err != nil && path%3 <= 2 {
					t.Fatalf("issue: %v", err)
				}
			case 5:
				if b&1 != 0 {
					_, _ = c.localRotate(uint32(path % 3))
				}
			case 6: // take frames
				for i := 0; i < int(b%4); i++ {
					fr, err := c.nextFrame()
					if err != nil {
						t.Fatal(err)
					}
					if fr == nil {
						break
					}
					c.sent(fr)
					sent = append(sent, fr)
				}
			case 7: // outcome of a sent frame
				if len(sent) > 0 {
					i := int(b) % len(sent)
					if d&1 != 0 {
						c.acked(sent[i])
					} else {
						c.lost(sent[i])
					}
					sent = append(sent[:i], sent[i+1:]...)
				}
			}
			if res != 0 {
				switch uint64(res) {
				case CodeProtocolViolation, codeConnIDLimit, CodeFrameEncodingError:
					return // the connection closes
				default:
					t.Fatalf("op %d: unexpected %v", op, res)
				}
			}
			for p := uint32(0); p <= 2; p++ {
				if n := c.poolStat(p, 0); n > limit {
					t.Fatalf("path %d holds %d peer CIDs, limit %d", p, n, limit)
				}
				if n := c.poolStat(p, 1); n > 2*limit+limit {
					t.Fatalf("path %d: %d retirements in flight", p, n)
				}
				if n := c.poolStat(p, 2); n > 4 {
					t.Fatalf("path %d: %d local CIDs active", p, n)
				}
			}
			// Every registered CID is known locally and vice versa.
			for _, r := range c.registered() {
				if _, path, seq, ok := c.localToken([]byte(r.CID)); !ok || path != r.Path || seq != r.Seq {
					t.Fatalf("registered CID %x not known locally", r.CID)
				}
			}
		}
	})
}
