package bridge

import (
	"testing"
)

func mustAckMgr(t testing.TB) *ackMgr {
	t.Helper()
	a := newAckMgr(0, 25*ms, 3)
	t.Cleanup(func() {
		if a.am != nil {
			a.free()
		}
	})
	return a
}

func recv(t testing.TB, a *ackMgr, space int, pn uint64, eliciting bool, ecn uint8, now uint64) {
	t.Helper()
	fresh, err := a.onPacket(space, pn, eliciting, ecn, now)
	if err != nil || !fresh {
		t.Fatalf("on_packet %d: fresh %v err %v", pn, fresh, err)
	}
}

// decodeAck emits the ACK for space and decodes it with the frame decoder.
func decodeAck(t testing.TB, a *ackMgr, space int, now uint64, maxRanges uint32, markSent bool) *Frame {
	t.Helper()
	wire, err := a.emit(space, now, maxRanges, markSent)
	if err != nil {
		t.Fatal(err)
	}
	if wire == nil {
		return nil
	}
	fs, err := DecodeFrames(wire)
	if err != nil || len(fs) != 1 {
		t.Fatalf("decode %x: %v (%d frames)", wire, err, len(fs))
	}
	return &fs[0]
}

func rangesOf(f *Frame) [][2]uint64 {
	var out [][2]uint64
	for _, r := range f.AckRanges {
		out = append(out, [2]uint64{r.Largest, r.Smallest})
	}
	return out
}

func equalRanges(a, b [][2]uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Application Data: an ACK after the second ack-eliciting packet, or after
// max_ack_delay for a lone one; non-ack-eliciting packets never trigger one.
func TestAckMgrThresholdAndDelay(t *testing.T) {
	a := mustAckMgr(t)
	recv(t, a, spaceApp, 0, true, ecnNotECT, 0)
	if a.shouldSend(spaceApp, 0) {
		t.Fatal("ACK due after one ack-eliciting packet")
	}
	if a.deadline() != 25*ms {
		t.Fatalf("deadline %d", a.deadline())
	}
	if a.shouldSend(spaceApp, 25*ms-1) || !a.shouldSend(spaceApp, 25*ms) {
		t.Fatal("max_ack_delay timer")
	}
	recv(t, a, spaceApp, 1, true, ecnNotECT, 1*ms)
	if !a.shouldSend(spaceApp, 1*ms) {
		t.Fatal("no ACK after two ack-eliciting packets")
	}
	f := decodeAck(t, a, spaceApp, 9*ms, 0, true)
	if f.Type != FrameAck || !equalRanges(rangesOf(f), [][2]uint64{{1, 0}}) {
		t.Fatalf("ack %v %v", f.Type, rangesOf(f))
	}
	// ACK Delay: 8 ms since pn 1 arrived, exponent 3 -> 8000 >> 3.
	if f.AckDelay != 1000 {
		t.Fatalf("ack delay %d", f.AckDelay)
	}
	if a.shouldSend(spaceApp, 100*ms) || a.deadline() != timeNone {
		t.Fatal("ACK still due after sending")
	}
	// Only non-ack-eliciting packets: pending but never due.
	recv(t, a, spaceApp, 2, false, ecnNotECT, 10*ms)
	recv(t, a, spaceApp, 3, false, ecnNotECT, 11*ms)
	if a.shouldSend(spaceApp, 1000*ms) || !a.hasPending(spaceApp) || a.deadline() != timeNone {
		t.Fatal("ACK-only packets triggered an ACK")
	}
	// Duplicates are refused.
	if fresh, _ := a.onPacket(spaceApp, 2, true, ecnNotECT, 12*ms); fresh {
		t.Fatal("duplicate accepted")
	}
	if !a.isDuplicate(spaceApp, 0) || a.isDuplicate(spaceApp, 4) {
		t.Fatal("isDuplicate")
	}
}

// Initial and Handshake ack-eliciting packets are acknowledged at once; CE
// marks and IMMEDIATE_ACK too.
func TestAckMgrImmediate(t *testing.T) {
	a := mustAckMgr(t)
	for _, sp := range []int{spaceInitial, spaceHandshake} {
		recv(t, a, sp, 0, true, ecnNotECT, 5*ms)
		if !a.shouldSend(sp, 5*ms) {
			t.Fatalf("space %d: no immediate ACK", sp)
		}
		f := decodeAck(t, a, sp, 7*ms, 0, true)
		if f.AckDelay != 2000>>3 {
			t.Fatalf("space %d: delay %d", sp, f.AckDelay)
		}
	}
	recv(t, a, spaceApp, 0, true, ecnCE, 0)
	if !a.shouldSend(spaceApp, 0) {
		t.Fatal("no immediate ACK for CE")
	}
	f := decodeAck(t, a, spaceApp, 0, 0, true)
	if f.Type != FrameAckECN || f.CE != 1 || f.ECT0 != 0 {
		t.Fatalf("ECN counts %v ce %d ect0 %d", f.Type, f.CE, f.ECT0)
	}
	recv(t, a, spaceApp, 1, true, ecnECT0, 1*ms)
	if a.shouldSend(spaceApp, 1*ms) {
		t.Fatal("immediate ACK for an in-order ECT(0) packet")
	}
	a.immediateAck(spaceApp, 1*ms)
	if !a.shouldSend(spaceApp, 1*ms) {
		t.Fatal("IMMEDIATE_ACK ignored")
	}
	f = decodeAck(t, a, spaceApp, 1*ms, 0, true)
	if f.ECT0 != 1 || f.CE != 1 || f.ECT1 != 0 {
		t.Fatalf("counts ect0 %d ect1 %d ce %d", f.ECT0, f.ECT1, f.CE)
	}
}

// Out-of-order arrival: a new gap or a packet filling one triggers an
// immediate ACK (RFC 9000 13.2.1); a gap already reported does not.
func TestAckMgrOutOfOrder(t *testing.T) {
	a := mustAckMgr(t)
	recv(t, a, spaceApp, 0, true, ecnNotECT, 0)
	decodeAck(t, a, spaceApp, 0, 0, true)
	recv(t, a, spaceApp, 2, true, ecnNotECT, 1*ms) // 1 missing
	if !a.shouldSend(spaceApp, 1*ms) {
		t.Fatal("no immediate ACK for a gap")
	}
	f := decodeAck(t, a, spaceApp, 1*ms, 0, true)
	if !equalRanges(rangesOf(f), [][2]uint64{{2, 2}, {0, 0}}) {
		t.Fatalf("ranges %v", rangesOf(f))
	}
	recv(t, a, spaceApp, 3, true, ecnNotECT, 2*ms) // gap already reported
	if a.shouldSend(spaceApp, 2*ms) {
		t.Fatal("immediate ACK for a reported gap")
	}
	recv(t, a, spaceApp, 1, true, ecnNotECT, 3*ms) // fills the gap
	if !a.shouldSend(spaceApp, 3*ms) {
		t.Fatal("no immediate ACK for a reordered packet")
	}
	f = decodeAck(t, a, spaceApp, 3*ms, 0, true)
	if !equalRanges(rangesOf(f), [][2]uint64{{3, 0}}) {
		t.Fatalf("merged ranges %v", rangesOf(f))
	}
}

// Range bookkeeping: merging, the cap (oldest dropped and then treated as
// duplicates), truncation to the caller's limit, ACK-of-ACK pruning.
func TestAckMgrRanges(t *testing.T) {
	a := mustAckMgr(t)
	for _, pn := range []uint64{0, 1, 2, 5, 6, 4, 10, 8} {
		recv(t, a, spaceApp, pn, true, ecnNotECT, pn*ms)
	}
	f := decodeAck(t, a, spaceApp, 20*ms, 0, false)
	if !equalRanges(rangesOf(f), [][2]uint64{{10, 10}, {8, 8}, {6, 4}, {2, 0}}) {
		t.Fatalf("ranges %v", rangesOf(f))
	}
	recv(t, a, spaceApp, 3, true, ecnNotECT, 21*ms)
	recv(t, a, spaceApp, 9, true, ecnNotECT, 22*ms)
	f = decodeAck(t, a, spaceApp, 22*ms, 0, false)
	if !equalRanges(rangesOf(f), [][2]uint64{{10, 8}, {6, 0}}) {
		t.Fatalf("merged ranges %v", rangesOf(f))
	}
	// Truncation for a small packet: the newest ranges stay.
	f = decodeAck(t, a, spaceApp, 22*ms, 1, false)
	if !equalRanges(rangesOf(f), [][2]uint64{{10, 8}}) {
		t.Fatalf("truncated %v", rangesOf(f))
	}

	b := mustAckMgr(t)
	b.setMaxRanges(4)
	for pn := uint64(0); pn <= 20; pn += 2 {
		recv(t, b, spaceApp, pn, true, ecnNotECT, pn*ms)
	}
	f = decodeAck(t, b, spaceApp, 30*ms, 0, false)
	if !equalRanges(rangesOf(f), [][2]uint64{{20, 20}, {18, 18}, {16, 16}, {14, 14}}) {
		t.Fatalf("capped ranges %v", rangesOf(f))
	}
	if b.floor(spaceApp) != 13 {
		t.Fatalf("floor %d", b.floor(spaceApp))
	}
	// Forgotten packets (and anything older) count as duplicates.
	for _, pn := range []uint64{12, 11, 3} {
		if !b.isDuplicate(spaceApp, pn) {
			t.Fatalf("pn %d below the floor not a duplicate", pn)
		}
	}
	// A new gap still fits: the oldest range goes.
	recv(t, b, spaceApp, 15, true, ecnNotECT, 31*ms)
	recv(t, b, spaceApp, 23, true, ecnNotECT, 32*ms)
	f = decodeAck(t, b, spaceApp, 33*ms, 0, false)
	if !equalRanges(rangesOf(f), [][2]uint64{{23, 23}, {20, 20}, {18, 18}, {16, 14}}) {
		t.Fatalf("ranges after cap %v", rangesOf(f))
	}

	// ACK-of-ACK: our ACK with Largest Acknowledged 18 was acknowledged.
	b.onAckAcked(spaceApp, 18)
	f = decodeAck(t, b, spaceApp, 34*ms, 0, false)
	if !equalRanges(rangesOf(f), [][2]uint64{{23, 23}, {20, 20}}) {
		t.Fatalf("after ack-of-ack %v", rangesOf(f))
	}
	if !b.isDuplicate(spaceApp, 17) || b.isDuplicate(spaceApp, 19) {
		t.Fatal("floor after ack-of-ack")
	}
	b.onAckAcked(spaceApp, 23)
	if f := decodeAck(t, b, spaceApp, 35*ms, 0, false); f != nil {
		t.Fatalf("ACK built with nothing to report: %v", rangesOf(f))
	}
	// Discarded spaces refuse packets.
	b.discard(spaceInitial)
	if _, err := b.onPacket(spaceInitial, 0, true, 0, 0); err == nil {
		t.Fatal("packet accepted in a discarded space")
	}
}

// ACK_FREQUENCY: threshold, requested delay, reordering threshold,
// sequence numbers and the min_ack_delay check.
func TestAckMgrAckFrequency(t *testing.T) {
	a := mustAckMgr(t)
	a.setMinAckDelay(1 * ms)
	if code := a.ackFrequency(1, 9, 500, 1, 0); code != CodeProtocolViolation {
		t.Fatalf("delay below min_ack_delay: %#x", code)
	}
	if code := a.ackFrequency(1, 9, 5000, 0, 0); code != 0 {
		t.Fatalf("ack_frequency: %#x", code)
	}
	for pn := uint64(0); pn < 9; pn++ {
		recv(t, a, spaceApp, pn, true, ecnNotECT, 0)
		if a.shouldSend(spaceApp, 0) {
			t.Fatalf("ACK due after %d packets with threshold 9", pn+1)
		}
	}
	if a.deadline() != 5*ms {
		t.Fatalf("requested max ack delay: deadline %d", a.deadline())
	}
	recv(t, a, spaceApp, 9, true, ecnNotECT, 0)
	if !a.shouldSend(spaceApp, 0) {
		t.Fatal("no ACK after 10 packets with threshold 9")
	}
	decodeAck(t, a, spaceApp, 0, 0, true)
	// Reordering threshold 0: gaps never trigger immediate ACKs.
	recv(t, a, spaceApp, 12, true, ecnNotECT, 1*ms)
	recv(t, a, spaceApp, 11, true, ecnNotECT, 1*ms)
	if a.shouldSend(spaceApp, 1*ms) {
		t.Fatal("immediate ACK with reordering threshold 0")
	}
	// An older sequence number is ignored.
	a.ackFrequency(0, 0, 5000, 1, 2*ms)
	recv(t, a, spaceApp, 13, true, ecnNotECT, 2*ms)
	if a.shouldSend(spaceApp, 2*ms) {
		t.Fatal("stale ACK_FREQUENCY applied")
	}
	// Reordering threshold 3: a gap must be 3 behind the largest.
	a.ackFrequency(2, 100, 5000, 3, 3*ms)
	decodeAck(t, a, spaceApp, 3*ms, 0, true)
	recv(t, a, spaceApp, 15, true, ecnNotECT, 4*ms) // 14 missing, 15 - 14 < 3
	recv(t, a, spaceApp, 16, true, ecnNotECT, 4*ms)
	if a.shouldSend(spaceApp, 4*ms) {
		t.Fatal("immediate ACK before the reordering threshold")
	}
	recv(t, a, spaceApp, 17, true, ecnNotECT, 4*ms) // 17 - 14 >= 3
	if !a.shouldSend(spaceApp, 4*ms) {
		t.Fatal("no immediate ACK at the reordering threshold")
	}
}

// PATH_ACK for multipath, ACCURATE_ACK_ECN ranges split by mark.
func TestAckMgrFrameTypes(t *testing.T) {
	a := newAckMgr(7, 25*ms, 3)
	defer a.free()
	a.setPathAck(true)
	recv(t, a, spaceApp, 0, true, ecnNotECT, 0)
	f := decodeAck(t, a, spaceApp, 0, 0, true)
	if f.Type != FramePathAck || f.PathID != 7 {
		t.Fatalf("path ack: %v path %d", f.Type, f.PathID)
	}
	recv(t, a, spaceApp, 1, true, ecnECT0, 0)
	f = decodeAck(t, a, spaceApp, 0, 0, true)
	if f.Type != FramePathAckECN || f.ECT0 != 1 {
		t.Fatalf("path ack ecn: %v", f.Type)
	}
	// Handshake spaces stay plain ACKs.
	recv(t, a, spaceHandshake, 0, true, ecnNotECT, 0)
	if f := decodeAck(t, a, spaceHandshake, 0, 0, true); f.Type != FrameAck {
		t.Fatalf("handshake ack type %v", f.Type)
	}

	b := mustAckMgr(t)
	b.setAccurateECN(true)
	marks := []uint8{ecnECT0, ecnECT0, ecnCE, ecnECT0, ecnECT1, ecnECT1}
	for pn, m := range marks {
		recv(t, b, spaceApp, uint64(pn), true, m, 0)
	}
	f = decodeAck(t, b, spaceApp, 0, 0, true)
	want := []AckRange{{4, 5, ecnECT1}, {3, 3, ecnECT0}, {2, 2, ecnCE}, {0, 1, ecnECT0}}
	if f.Type != FrameAccurateAckECN || len(f.AckRanges) != len(want) {
		t.Fatalf("accurate ack %v %+v", f.Type, f.AckRanges)
	}
	for i := range want {
		if f.AckRanges[i] != want[i] {
			t.Fatalf("range %d: %+v want %+v", i, f.AckRanges[i], want[i])
		}
	}
}

// The receiver's ACKs drive the sender's recovery through the wire format.
func TestAckMgrToRecovery(t *testing.T) {
	a := mustAckMgr(t)
	p := mustPath(t, "cubic", true)
	p.confirmHandshake(0)
	for pn := uint64(0); pn < 20; pn++ {
		mustSend(t, p, spaceApp, pn, pn*ms, 1200, sentData)
		if pn%5 != 3 {
			recv(t, a, spaceApp, pn, true, ecnNotECT, pn*ms+30*ms)
		}
	}
	wire, err := a.emit(spaceApp, 50*ms, 0, true)
	if err != nil {
		t.Fatal(err)
	}
	code, err := p.ackWire(spaceApp, wire, 50*ms)
	if err != nil || code != 0 {
		t.Fatalf("ackWire: %#x %v", code, err)
	}
	evs := p.events()
	if got := pnsOf(evs, evLost); !equalU64(got, []uint64{3, 8, 13}) {
		t.Fatalf("lost %v", got)
	}
	if len(pnsOf(evs, evAcked)) != 16 {
		t.Fatalf("acked %v", pnsOf(evs, evAcked))
	}
	// RTT from pn 19: 50 - 19 = 31 ms, ACK delay 1 ms (50 - 49) not
	// subtracted on the first sample.
	if p.rtt().Latest != 31*ms {
		t.Fatalf("latest %d", p.rtt().Latest)
	}
}
