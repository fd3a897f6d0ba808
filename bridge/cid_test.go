package bridge

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"testing"
)

func newCIDs(t *testing.T, cfg cidsConfig) *cidTable {
	t.Helper()
	c, err := newCIDTable(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.free)
	return c
}

// drainCIDFrames takes every pending frame, marking it sent.
func drainCIDFrames(t *testing.T, c *cidTable) []*Frame {
	t.Helper()
	var out []*Frame
	for i := 0; i < 1000; i++ {
		f, err := c.nextFrame()
		if err != nil {
			t.Fatal(err)
		}
		if f == nil {
			return out
		}
		c.sent(f)
		out = append(out, f)
	}
	t.Fatal("endless CID frames")
	return nil
}

// tokenOf is the stateless reset token of cid: what a server that lost
// the connection derives from the CID alone.
func tokenOf(key, cid []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("tquic reset"))
	m.Write(cid)
	return m.Sum(nil)[:16]
}

func TestCIDLocalIssueAndRetire(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	c := newCIDs(t, cidsConfig{CIDLen: 8, ResetKey: key, ActiveLimit: 4, IssueCap: 6})
	scid := []byte{1, 2, 3, 4, 5, 6, 7, 8}
	if err := c.localAdd(0, 0, scid, nil); err != nil {
		t.Fatal(err)
	}
	// Default peer limit is 2: one more CID.
	if n, err := c.localIssue(0); n != 1 || err != nil {
		t.Fatalf("issue with default limit: %d %v", n, err)
	}
	c.setPeerLimit(4)
	if n, err := c.localIssue(0); n != 2 || err != nil {
		t.Fatalf("issue: %d %v", n, err)
	}
	if n, _ := c.localIssue(0); n != 0 {
		t.Fatalf("issued %d beyond the peer limit", n)
	}
	frames := drainCIDFrames(t, c)
	if len(frames) != 3 {
		t.Fatalf("%d NEW_CONNECTION_ID frames, want 3", len(frames))
	}
	regs := c.registered()
	if len(regs) != 4 {
		t.Fatalf("demux table has %d CIDs, want 4", len(regs))
	}
	for i, f := range frames {
		if f.Type != FrameNewConnectionID || f.Sequence != uint64(i+1) || f.RetirePriorTo != 0 || len(f.ConnectionID) != 8 {
			t.Fatalf("frame %d: %+v", i, f)
		}
		if !bytes.Equal(f.StatelessResetToken[:], tokenOf(key, f.ConnectionID)) {
			t.Fatalf("frame %d: token is not HMAC(key, cid)", i)
		}
		tok, path, seq, ok := c.localToken(f.ConnectionID)
		if !ok || path != 0 || seq != f.Sequence || !bytes.Equal(tok, f.StatelessResetToken[:]) {
			t.Fatalf("lookup of issued CID %x failed", f.ConnectionID)
		}
	}
	if tok, _, _, _ := c.localToken(scid); !bytes.Equal(tok, tokenOf(key, scid)) {
		t.Fatal("handshake CID token")
	}
	// A lost NEW_CONNECTION_ID is sent again, an acked one is not.
	c.lost(frames[1])
	c.acked(frames[0])
	again := drainCIDFrames(t, c)
	if len(again) != 1 || again[0].Sequence != 2 {
		t.Fatalf("retransmission: %+v", again)
	}
	// RETIRE_CONNECTION_ID rules.
	if r := c.onRetire(false, 0, 9, 0, 0); uint64(r) != CodeProtocolViolation {
		t.Fatalf("retire of a never issued seq: %v", r)
	}
	if r := c.onRetire(false, 0, 1, 0, 1); uint64(r) != CodeProtocolViolation {
		t.Fatalf("retire of the packet's own DCID: %v", r)
	}
	if r := c.onRetire(false, 0, 1, 0, 0); r != 0 {
		t.Fatal(r)
	}
	if _, _, _, ok := c.localToken(frames[0].ConnectionID); ok {
		t.Fatal("retired CID still known")
	}
	for _, r := range c.registered() {
		if r.Seq == 1 {
			t.Fatal("retired CID still in the demux table")
		}
	}
	repl := drainCIDFrames(t, c)
	if len(repl) != 1 || repl[0].Sequence != 4 {
		t.Fatalf("replacement: %+v", repl)
	}
	if r := c.onRetire(false, 0, 1, 0, 0); r != 0 {
		t.Fatalf("repeated retire: %v", r)
	}
	if len(c.registered()) != 4 {
		t.Fatalf("demux table has %d CIDs", len(c.registered()))
	}
	// Rotation: retire_prior_to moves past every CID issued so far.
	if n, err := c.localRotate(0); n != 4 || err != nil {
		t.Fatalf("rotate: %d %v", n, err)
	}
	rot := drainCIDFrames(t, c)
	if len(rot) != 4 {
		t.Fatalf("rotation frames: %d", len(rot))
	}
	for _, f := range rot {
		if f.RetirePriorTo != 5 || f.Sequence < 5 {
			t.Fatalf("rotation frame %+v", f)
		}
	}
	// Old CIDs stay usable until the peer retires them.
	if len(c.registered()) != 8 {
		t.Fatalf("demux table after rotation: %d", len(c.registered()))
	}
	for _, seq := range []uint64{0, 2, 3, 4} {
		if r := c.onRetire(false, 0, seq, 0, 7); r != 0 {
			t.Fatal(r)
		}
	}
	if len(c.registered()) != 4 || len(drainCIDFrames(t, c)) != 0 {
		t.Fatalf("after retiring the old CIDs: %d registered", len(c.registered()))
	}
}

func TestCIDHostGeneratorAndCollisions(t *testing.T) {
	c := newCIDs(t, cidsConfig{GenLen: 12, GenToken: true, ActiveLimit: 4, IssueCap: 4})
	c.setPeerLimit(3)
	c.setFailAdds(2) // the host's table refuses two CIDs (collisions)
	if n, err := c.localIssue(0); n != 3 || err != nil {
		t.Fatalf("issue: %d %v", n, err)
	}
	fs := drainCIDFrames(t, c)
	for _, f := range fs {
		if len(f.ConnectionID) != 12 || f.StatelessResetToken[0] < 0xa0 {
			t.Fatalf("generator output not used: %+v", f)
		}
	}
	// Persistent refusal fails the issue without leaking.
	c.setPeerLimit(4)
	c.setFailAdds(100)
	if _, err := c.localIssue(0); err == nil {
		t.Fatal("issue succeeded with the host refusing every CID")
	}
	if len(c.registered()) != 3 {
		t.Fatalf("registered %d", len(c.registered()))
	}
}

func TestCIDPeerNewConnectionID(t *testing.T) {
	c := newCIDs(t, cidsConfig{CIDLen: 8, ActiveLimit: 4})
	if err := c.peerSetInitial([]byte{9, 9, 9, 9}); err != nil {
		t.Fatal(err)
	}
	tok := func(b byte) (t [16]byte) {
		for i := range t {
			t[i] = b
		}
		return
	}
	cid := func(b byte) []byte { return []byte{b, b, b, b, b, b, b, b} }
	for seq := uint64(1); seq <= 3; seq++ {
		if r := c.onNewCID(false, 0, seq, 0, cid(byte(seq)), tok(byte(seq))); r != 0 {
			t.Fatalf("seq %d: %v", seq, r)
		}
	}
	if r := c.onNewCID(false, 0, 2, 0, cid(2), tok(2)); r != 0 {
		t.Fatalf("identical repeat: %v", r)
	}
	if r := c.onNewCID(false, 0, 2, 0, cid(7), tok(2)); uint64(r) != CodeProtocolViolation {
		t.Fatalf("seq reused for another CID: %v", r)
	}
	if r := c.onNewCID(false, 0, 2, 0, cid(2), tok(7)); uint64(r) != CodeProtocolViolation {
		t.Fatalf("repeat with another token: %v", r)
	}
	if r := c.onNewCID(false, 0, 5, 0, cid(3), tok(5)); uint64(r) != CodeProtocolViolation {
		t.Fatalf("CID reused with another seq: %v", r)
	}
	if r := c.onNewCID(false, 0, 5, 6, cid(5), tok(5)); uint64(r) != CodeFrameEncodingError {
		t.Fatalf("retire_prior_to above seq: %v", r)
	}
	if r := c.onNewCID(false, 0, 4, 0, cid(4), tok(4)); uint64(r) != codeConnIDLimit {
		t.Fatalf("fifth active CID with limit 4: %v", r)
	}

	c2 := newCIDs(t, cidsConfig{CIDLen: 8, ActiveLimit: 4})
	if err := c2.peerSetInitial([]byte{9, 9, 9, 9}); err != nil {
		t.Fatal(err)
	}
	ee := tok(0xee)
	if err := c2.peerSetToken(0, 0, ee[:]); err != nil {
		t.Fatal(err)
	}
	for seq := uint64(1); seq <= 3; seq++ {
		if r := c2.onNewCID(false, 0, seq, 0, cid(byte(seq)), tok(byte(seq))); r != 0 {
			t.Fatal(r)
		}
	}
	c2.events()
	// Stateless reset detection: only tokens of CIDs in use.
	if !c2.isStatelessReset(tok(0xee)) {
		t.Fatal("token of the CID in use not detected")
	}
	if c2.isStatelessReset(tok(2)) {
		t.Fatal("token of an unused CID detected")
	}
	seq, got, ok := c2.peerPick(0, 1)
	if !ok || seq != 1 || !bytes.Equal(got, cid(1)) {
		t.Fatalf("pick: %d %x %v", seq, got, ok)
	}
	if !c2.isStatelessReset(tok(1)) {
		t.Fatal("token of a picked CID not detected")
	}
	if c2.peerUnused(0) != 2 {
		t.Fatalf("unused %d", c2.peerUnused(0))
	}
	// retire_prior_to 2 retires 0 (in use) and 1.
	if r := c2.onNewCID(false, 0, 4, 2, cid(4), tok(4)); r != 0 {
		t.Fatal(r)
	}
	if ev := c2.events(); ev&cidEvDCIDRetired == 0 {
		t.Fatalf("events %x: no DCID_RETIRED", ev)
	}
	if c2.isStatelessReset(tok(0xee)) || c2.isStatelessReset(tok(1)) {
		t.Fatal("retired tokens still detected")
	}
	fs := drainCIDFrames(t, c2)
	if len(fs) != 2 || fs[0].Type != FrameRetireConnectionID || fs[0].Sequence != 0 || fs[1].Sequence != 1 {
		t.Fatalf("RETIRE frames: %+v", fs)
	}
	// A late NEW_CONNECTION_ID below retire_prior_to is retired at once (once).
	if r := c2.onNewCID(false, 0, 1, 0, cid(1), tok(1)); r != 0 {
		t.Fatal(r)
	}
	if c2.peerHas(0, 1) {
		t.Fatal("CID below retire_prior_to stored")
	}
	if len(drainCIDFrames(t, c2)) != 0 {
		t.Fatal("second RETIRE for the same sequence")
	}
	c2.lost(fs[0])
	if again := drainCIDFrames(t, c2); len(again) != 1 || again[0].Sequence != 0 {
		t.Fatalf("lost RETIRE not resent: %+v", again)
	}
	c2.acked(fs[0])
	c2.acked(fs[1])
	if c2.poolStat(0, 1) != 0 {
		t.Fatalf("retirements in flight: %d", c2.poolStat(0, 1))
	}
	// Migration: we drop the CID we used and pick another.
	seq, _, ok = c2.peerPick(0, 0)
	if !ok || seq != 2 {
		t.Fatalf("pick %d %v", seq, ok)
	}
	if err := c2.peerRetire(0, 2); err != nil {
		t.Fatal(err)
	}
	if fs := drainCIDFrames(t, c2); len(fs) != 1 || fs[0].Sequence != 2 {
		t.Fatalf("voluntary RETIRE: %+v", fs)
	}
	if r := c2.onNewCID(false, 0, 2, 0, cid(2), tok(2)); r != 0 || c2.peerHas(0, 2) {
		t.Fatalf("replayed NEW_CONNECTION_ID of a retired CID: %v, stored %v", r, c2.peerHas(0, 2))
	}
}

func TestCIDRetireFlood(t *testing.T) {
	c := newCIDs(t, cidsConfig{CIDLen: 8, ActiveLimit: 2})
	if err := c.peerSetInitial([]byte{1, 1, 1, 1}); err != nil {
		t.Fatal(err)
	}
	var tok [16]byte
	var res engineResult
	seq := uint64(1)
	for ; seq < 100; seq++ {
		tok[0] = byte(seq)
		// Each frame retires everything before it; we never get our
		// RETIRE_CONNECTION_ID frames acknowledged.
		res = c.onNewCID(false, 0, seq, seq, []byte{byte(seq), 2, 3, 4, 5, 6, 7, 8}, tok)
		if res != 0 {
			break
		}
	}
	if uint64(res) != codeConnIDLimit || seq > 2*2+2 {
		t.Fatalf("retire flood: %v after %d frames", res, seq)
	}
}

func TestCIDMultipathPools(t *testing.T) {
	c := newCIDs(t, cidsConfig{CIDLen: 8, ActiveLimit: 3, IssueCap: 3})
	var tok [16]byte
	if r := c.onNewCID(true, 1, 0, 0, []byte{1, 2, 3, 4}, tok); uint64(r) != CodeProtocolViolation {
		t.Fatalf("PATH_NEW_CONNECTION_ID without multipath: %v", r)
	}
	c2 := newCIDs(t, cidsConfig{CIDLen: 8, ActiveLimit: 3, IssueCap: 3, Multipath: true, MaxPathID: 3})
	if err := c2.peerSetInitial([]byte{0xaa, 0xbb}); err != nil {
		t.Fatal(err)
	}
	for path := uint64(1); path <= 3; path++ {
		for seq := uint64(0); seq < 3; seq++ {
			tok[0] = byte(path*16 + seq)
			if r := c2.onNewCID(true, path, seq, 0, []byte{byte(path), byte(seq), 1, 1}, tok); r != 0 {
				t.Fatalf("path %d seq %d: %v", path, seq, r)
			}
		}
	}
	if r := c2.onNewCID(true, 4, 0, 0, []byte{4, 0, 1, 1}, tok); uint64(r) != CodeProtocolViolation {
		t.Fatalf("path above max_path_id: %v", r)
	}
	if r := c2.onNewCID(true, 2, 3, 0, []byte{2, 3, 1, 1}, tok); uint64(r) != codeConnIDLimit {
		t.Fatalf("per-path limit: %v", r)
	}
	if r := c2.onNewCID(true, 1, 3, 0, []byte{2, 2, 1, 1}, tok); uint64(r) != CodeProtocolViolation {
		t.Fatalf("CID of another path reused: %v", r)
	}
	if seq, cid, ok := c2.peerPick(2, 2); !ok || seq != 0 || cid[0] != 2 {
		t.Fatalf("pick on path 2: %d %x %v", seq, cid, ok)
	}
	// Retiring on path 2 uses the PATH_ frame.
	if r := c2.onNewCID(true, 2, 3, 1, []byte{2, 3, 1, 1}, tok); r != 0 {
		t.Fatal(r)
	}
	fs := drainCIDFrames(t, c2)
	if len(fs) != 1 || fs[0].Type != FramePathRetireConnectionID || fs[0].PathID != 2 || fs[0].Sequence != 0 {
		t.Fatalf("PATH_RETIRE_CONNECTION_ID: %+v", fs)
	}
	// Local CIDs per path: PATH_NEW_CONNECTION_ID for path 1, plain for 0.
	c2.setPeerLimit(2)
	if _, err := c2.localIssue(0); err != nil {
		t.Fatal(err)
	}
	if _, err := c2.localIssue(1); err != nil {
		t.Fatal(err)
	}
	fs = drainCIDFrames(t, c2)
	var plain, pathFrames int
	for _, f := range fs {
		switch {
		case f.Type == FrameNewConnectionID:
			plain++
		case f.Type == FramePathNewConnectionID && f.PathID == 1:
			pathFrames++
		default:
			t.Fatalf("unexpected %+v", f)
		}
	}
	if plain != 2 || pathFrames != 2 {
		t.Fatalf("plain %d path %d", plain, pathFrames)
	}
	if r := c2.onRetire(true, 1, 0, 0, 99); r != 0 {
		t.Fatal(r)
	}
	if r := c2.onRetire(true, 9, 0, 0, 99); uint64(r) != CodeProtocolViolation {
		t.Fatalf("retire on a path above the maximum: %v", r)
	}
	before := len(c2.registered())
	c2.releasePool(1)
	if after := len(c2.registered()); after >= before {
		t.Fatalf("abandoned path's CIDs still registered: %d -> %d", before, after)
	}
}

func TestCIDZeroLengthPeer(t *testing.T) {
	c := newCIDs(t, cidsConfig{CIDLen: 8, ActiveLimit: 2})
	if err := c.peerSetInitial(nil); err != nil {
		t.Fatal(err)
	}
	if r := c.onNewCID(false, 0, 1, 0, []byte{1, 2, 3, 4}, [16]byte{}); uint64(r) != CodeProtocolViolation {
		t.Fatalf("NEW_CONNECTION_ID from a zero-length peer: %v", r)
	}
}
