package bridge

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

func TestGSORun(t *testing.T) {
	a := netip.MustParseAddrPort("192.0.2.1:443")
	b := netip.MustParseAddrPort("192.0.2.2:443")
	// train lays out datagrams of the given sizes back to back.
	train := func(to netip.AddrPort, ecn uint8, sizes ...int) []outDatagram {
		var ds []outDatagram
		off := 0
		for _, n := range sizes {
			ds = append(ds, outDatagram{off: off, len: n, ecn: ecn, to: to})
			off += n
		}
		return ds
	}
	cases := []struct {
		name     string
		ds       []outDatagram
		maxSegs  int
		maxBytes int
		want     int
	}{
		{"empty", nil, 64, 65507, 0},
		{"one", train(a, 0, 1200), 64, 65507, 1},
		{"same size", train(a, 0, 1200, 1200, 1200), 64, 65507, 3},
		{"shorter last ends the train", train(a, 0, 1200, 1200, 50, 1200), 64, 65507, 3},
		{"larger one starts a new train", train(a, 0, 50, 1200), 64, 65507, 1},
		{"segment limit", train(a, 0, 1200, 1200, 1200, 1200), 3, 65507, 3},
		{"byte limit", train(a, 0, 1200, 1200, 1200), 64, 2500, 2},
		{"peer change", append(train(a, 0, 1200, 1200), outDatagram{off: 2400, len: 1200, to: b}), 64, 65507, 2},
		{"ECN change", append(train(a, 0, 1200), outDatagram{off: 1200, len: 1200, ecn: 2, to: a}), 64, 65507, 1},
		{"gap in the buffer", append(train(a, 0, 1200), outDatagram{off: 1300, len: 1200, to: a}), 64, 65507, 1},
	}
	for _, tc := range cases {
		if got := gsoRun(tc.ds, tc.maxSegs, tc.maxBytes); got != tc.want {
			t.Errorf("%s: gsoRun = %d, want %d", tc.name, got, tc.want)
		}
	}
}

// cmsgs parses control messages into level/type -> data.
func cmsgs(t *testing.T, oob []byte) map[[2]int32][]byte {
	t.Helper()
	m := map[[2]int32][]byte{}
	for len(oob) > 0 {
		h, data, rest, err := unix.ParseOneSocketControlMessage(oob)
		if err != nil {
			t.Fatalf("bad control message: %v", err)
		}
		m[[2]int32{h.Level, h.Type}] = data
		oob = rest
	}
	return m
}

func TestParseRecvOOB(t *testing.T) {
	to4 := netip.MustParseAddrPort("192.0.2.1:1")
	to6 := netip.MustParseAddrPort("[2001:db8::1]:1")
	gro := func(b []byte, seg int) []byte {
		off := len(b)
		b = append(b, make([]byte, unix.CmsgSpace(4))...)
		h := (*unix.Cmsghdr)(unsafe.Pointer(&b[off]))
		h.Level, h.Type = unix.SOL_UDP, unix.UDP_GRO
		h.SetLen(unix.CmsgLen(4))
		binary.NativeEndian.PutUint32(b[off+unix.CmsgLen(0):], uint32(seg))
		return b
	}
	for _, to := range []netip.AddrPort{to4, to6} {
		tos := ecnOOB(make([]byte, ecnOOBSpace), 2, to)
		if ecn, seg := parseRecvOOB(gro(append([]byte(nil), tos...), 1452)); ecn != 2 || seg != 1452 {
			t.Errorf("%v: TOS then GRO: ecn %d seg %d, want 2 1452", to, ecn, seg)
		}
		if ecn, seg := parseRecvOOB(append(gro(nil, 1200), tos...)); ecn != 2 || seg != 1200 {
			t.Errorf("%v: GRO then TOS: ecn %d seg %d, want 2 1200", to, ecn, seg)
		}
	}
	if ecn, seg := parseRecvOOB(nil); ecn != 0 || seg != 0 {
		t.Errorf("no control messages: ecn %d seg %d", ecn, seg)
	}
}

// fakeWriter records sends; with refuseGSO it fails segmented sends with
// EIO, as a device without checksum offload does.
type fakeWriter struct {
	refuseGSO bool
	sends     []fakeSend
}

type fakeSend struct {
	b   []byte
	seg int // 0: no UDP_SEGMENT
	ecn int // -1: no TOS / traffic class
	to  netip.AddrPort
}

func (w *fakeWriter) WriteMsgUDPAddrPort(b, oob []byte, to netip.AddrPort) (int, int, error) {
	s := fakeSend{b: bytes.Clone(b), ecn: -1, to: to}
	for len(oob) > 0 {
		h, data, rest, err := unix.ParseOneSocketControlMessage(oob)
		if err != nil {
			return 0, 0, err
		}
		switch {
		case h.Level == unix.SOL_UDP && h.Type == unix.UDP_SEGMENT:
			s.seg = int(binary.NativeEndian.Uint16(data))
		case h.Level == unix.IPPROTO_IP && h.Type == unix.IP_TOS,
			h.Level == unix.IPPROTO_IPV6 && h.Type == unix.IPV6_TCLASS:
			s.ecn = int(binary.NativeEndian.Uint32(data))
		}
		oob = rest
	}
	if s.seg > 0 && w.refuseGSO {
		return 0, 0, &net.OpError{Op: "write", Err: unix.EIO}
	}
	w.sends = append(w.sends, s)
	return len(b), len(oob), nil
}

// sendBatch lays out datagrams of the given sizes (filled with their index)
// back to back to one peer.
func sendBatch(to netip.AddrPort, ecn uint8, sizes ...int) ([]byte, []outDatagram) {
	var buf []byte
	var ds []outDatagram
	for i, n := range sizes {
		ds = append(ds, outDatagram{off: len(buf), len: n, ecn: ecn, to: to})
		buf = append(buf, bytes.Repeat([]byte{byte(i)}, n)...)
	}
	return buf, ds
}

func TestUDPSocketSendCoalesces(t *testing.T) {
	to := netip.MustParseAddrPort("192.0.2.1:443")
	w := &fakeWriter{}
	s := &udpSocket{w: w}
	s.gso.Store(true)
	buf, ds := sendBatch(to, 2, 1400, 1400, 1400, 600, 1400)
	if err := s.send(buf, ds, make([]byte, 0, sendOOBSpace)); err != nil {
		t.Fatal(err)
	}
	if len(w.sends) != 2 {
		t.Fatalf("%d sends, want 2 (a train of four, then one)", len(w.sends))
	}
	first, second := w.sends[0], w.sends[1]
	if first.seg != 1400 || !bytes.Equal(first.b, buf[:4800]) || first.ecn != 2 || first.to != to {
		t.Errorf("train: seg %d, %d bytes, ecn %d, to %v", first.seg, len(first.b), first.ecn, first.to)
	}
	if second.seg != 0 || !bytes.Equal(second.b, buf[4800:]) || second.ecn != 2 {
		t.Errorf("single: seg %d, %d bytes, ecn %d", second.seg, len(second.b), second.ecn)
	}
	// Not-ECT datagrams carry no TOS message.
	w.sends = nil
	buf, ds = sendBatch(to, 0, 1400, 1400)
	if err := s.send(buf, ds, make([]byte, 0, sendOOBSpace)); err != nil {
		t.Fatal(err)
	}
	if len(w.sends) != 1 || w.sends[0].ecn != -1 || w.sends[0].seg != 1400 {
		t.Errorf("Not-ECT train: %+v", w.sends)
	}
}

func TestUDPSocketSendGSOFallback(t *testing.T) {
	to := netip.MustParseAddrPort("[2001:db8::1]:443")
	w := &fakeWriter{refuseGSO: true}
	s := &udpSocket{w: w}
	s.gso.Store(true)
	buf, ds := sendBatch(to, 1, 1300, 1300, 1300)
	if err := s.send(buf, ds, make([]byte, 0, sendOOBSpace)); err != nil {
		t.Fatalf("a refused GSO send must be retried without GSO, got %v", err)
	}
	if s.gso.Load() || s.gsoFallbacks.Load() != 1 {
		t.Fatalf("GSO still on (%v) or fallbacks %d after EIO", s.gso.Load(), s.gsoFallbacks.Load())
	}
	if len(w.sends) != 3 {
		t.Fatalf("%d sends, want the 3 datagrams one by one", len(w.sends))
	}
	for i, snd := range w.sends {
		if snd.seg != 0 || !bytes.Equal(snd.b, buf[i*1300:(i+1)*1300]) || snd.ecn != 1 || snd.to != to {
			t.Errorf("datagram %d: seg %d, %d bytes, ecn %d, to %v", i, snd.seg, len(snd.b), snd.ecn, snd.to)
		}
	}
	// Remembered: the next batch does not try GSO again.
	w.sends = nil
	if err := s.send(buf, ds, make([]byte, 0, sendOOBSpace)); err != nil {
		t.Fatal(err)
	}
	if len(w.sends) != 3 || s.gsoFallbacks.Load() != 1 || s.gsoSends.Load() != 1 {
		t.Errorf("second batch: %d sends, %d fallbacks, %d GSO attempts", len(w.sends),
			s.gsoFallbacks.Load(), s.gsoSends.Load())
	}
}

// Other send errors are losses: reported, not a reason to drop GSO, and
// the rest of the batch still goes.
func TestUDPSocketSendOtherErrors(t *testing.T) {
	to := netip.MustParseAddrPort("192.0.2.1:443")
	s := &udpSocket{w: errWriter{}}
	s.gso.Store(true)
	buf, ds := sendBatch(to, 0, 1300, 1300, 100)
	err := s.send(buf, ds, make([]byte, 0, sendOOBSpace))
	if !errors.Is(err, unix.ECONNREFUSED) {
		t.Fatalf("error %v, want ECONNREFUSED", err)
	}
	if !s.gso.Load() {
		t.Error("GSO turned off by an unrelated error")
	}
}

type errWriter struct{}

func (errWriter) WriteMsgUDPAddrPort(b, oob []byte, to netip.AddrPort) (int, int, error) {
	return 0, 0, unix.ECONNREFUSED
}

// Through the kernel: a GSO train reaches a plain socket as separate
// datagrams and a GRO socket as one read cut by the segment size, with the
// ECN mark either way.
func TestUDPSocketGSOGROLoopback(t *testing.T) {
	listen := func() *net.UDPConn {
		u, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = u.Close() })
		return u
	}
	tx := newUDPSocket(listen())
	if !tx.gso.Load() {
		t.Fatal("the kernel offers no UDP GSO; this test needs Linux >= 4.18")
	}
	plain := newUDPSocket(listen())
	if err := plain.rc.Control(func(fd uintptr) {
		if err := unix.SetsockoptInt(int(fd), unix.SOL_UDP, unix.UDP_GRO, 0); err != nil {
			t.Fatal(err)
		}
	}); err != nil {
		t.Fatal(err)
	}
	gro := newUDPSocket(listen())
	sizes := []int{1300, 1300, 1300, 1300, 700}
	for _, rx := range []*udpSocket{plain, gro} {
		to := rx.udp.LocalAddr().(*net.UDPAddr).AddrPort()
		buf, ds := sendBatch(to, 2, sizes...)
		if err := tx.send(buf, ds, make([]byte, 0, sendOOBSpace)); err != nil {
			t.Fatal(err)
		}
		if tx.gsoSends.Load() == 0 || !tx.gso.Load() {
			t.Fatalf("no GSO send (%d) or GSO refused", tx.gsoSends.Load())
		}
		_ = rx.udp.SetReadDeadline(time.Now().Add(5 * time.Second))
		rb := newRecvBatch(2)
		var got []byte
		var reads int
		for len(got) < len(buf) {
			msgs, err := rx.readBatch(rb, true)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range msgs {
				reads++
				if m.from != tx.udp.LocalAddr().(*net.UDPAddr).AddrPort() || m.ecn != 2 {
					t.Errorf("read from %v ecn %d", m.from, m.ecn)
				}
				if rx == gro {
					if m.seg != 1300 || len(m.b) != len(buf) {
						t.Errorf("GRO read: %d bytes cut every %d, want %d every 1300", len(m.b), m.seg, len(buf))
					}
				} else if m.seg != 0 || len(m.b) != sizes[reads-1] {
					t.Errorf("plain read %d: %d bytes, seg %d", reads, len(m.b), m.seg)
				}
				got = append(got, m.b...)
			}
		}
		if rx == plain && reads != len(sizes) {
			t.Errorf("plain socket: %d reads, want %d", reads, len(sizes))
		}
		if !bytes.Equal(got, buf) {
			t.Errorf("received bytes differ from the train")
		}
	}
}

// readBatch reports IPv6 senders, and IPv4 ones on a dual-stack socket
// unmapped, as the engine expects them.
func TestUDPSocketReadBatchAddresses(t *testing.T) {
	rxConn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv6unspecified})
	if err != nil {
		t.Fatal(err)
	}
	defer rxConn.Close()
	rx := newUDPSocket(rxConn)
	port := rxConn.LocalAddr().(*net.UDPAddr).Port
	rb := newRecvBatch(4)
	for _, tc := range []struct{ network, to string }{{"udp4", "127.0.0.1"}, {"udp6", "::1"}} {
		tx, err := net.ListenUDP(tc.network, nil)
		if err != nil {
			t.Fatal(err)
		}
		to := netip.AddrPortFrom(netip.MustParseAddr(tc.to), uint16(port))
		if _, err := tx.WriteToUDPAddrPort([]byte("ping "+tc.network), to); err != nil {
			t.Fatal(err)
		}
		_ = rxConn.SetReadDeadline(time.Now().Add(5 * time.Second))
		msgs, err := rx.readBatch(rb, true)
		if err != nil {
			t.Fatal(err)
		}
		want := netip.AddrPortFrom(netip.MustParseAddr(tc.to), tx.LocalAddr().(*net.UDPAddr).AddrPort().Port())
		if len(msgs) != 1 || msgs[0].from != want || string(msgs[0].b) != "ping "+tc.network {
			t.Errorf("%s: got %+v, want one datagram from %v", tc.network, msgs, want)
		}
		_ = tx.Close()
	}
}

// Many connections on one listener socket send at once: batched reads mix
// their datagrams, and each connection must get exactly its own bytes.
func TestListenerManyConnsBulk(t *testing.T) {
	stls, ctls := interopTLS(t)
	cfg := &Config{InitialStreamWindow: 1 << 20, InitialConnectionWindow: 2 << 20}
	ln, err := Listen("127.0.0.1:0", stls, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// The server answers each stream with the SHA-256 of what it read, and
	// counts the datagrams its connections could not use: a datagram handed
	// to the wrong connection fails to decrypt there (QUIC would then
	// recover the data, hiding the mistake from the digests).
	var dropped, received atomic.Uint64
	go func() {
		for {
			c, err := ln.AcceptConn(ctx)
			if err != nil {
				return
			}
			go func() {
				s, err := c.AcceptStream(ctx)
				if err != nil {
					return
				}
				h := sha256.New()
				if _, err := io.Copy(h, s); err != nil {
					return
				}
				st := c.Stats()
				dropped.Add(st.PacketsDropped)
				received.Add(st.PacketsReceived)
				_, _ = s.Write(h.Sum(nil))
				_ = s.Close()
			}()
		}
	}()
	const conns, size = 8, 2 << 20
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	for i := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- func() error {
				c, err := Dial(ctx, ln.Addr().String(), ctls, cfg)
				if err != nil {
					return fmt.Errorf("dial %d: %w", i, err)
				}
				defer c.CloseWithError(0, "")
				s, err := c.OpenStream(ctx)
				if err != nil {
					return fmt.Errorf("open %d: %w", i, err)
				}
				data := make([]byte, size)
				for j := range data {
					data[j] = byte(i*131 + j*7 + j>>9)
				}
				if _, err := s.Write(data); err != nil {
					return fmt.Errorf("write %d: %w", i, err)
				}
				if err := s.Close(); err != nil {
					return fmt.Errorf("close %d: %w", i, err)
				}
				got, err := io.ReadAll(s)
				if err != nil {
					return fmt.Errorf("read %d: %w", i, err)
				}
				if want := sha256.Sum256(data); !bytes.Equal(got, want[:]) {
					return fmt.Errorf("connection %d: the server read other bytes than were sent", i)
				}
				return nil
			}()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if received.Load() < conns*size/1500 || dropped.Load() != 0 {
		t.Errorf("server connections received %d packets and dropped %d", received.Load(), dropped.Load())
	}
}

// A dual-stack socket sends GSO trains to an IPv4 peer (as a listener on
// [::] answers an IPv4 client), with the IPv4 ECN mark.
func TestUDPSocketGSODualStack(t *testing.T) {
	txConn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv6unspecified})
	if err != nil {
		t.Fatal(err)
	}
	defer txConn.Close()
	tx := newUDPSocket(txConn)
	rxConn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer rxConn.Close()
	if err := enableECNReceive(rxConn); err != nil {
		t.Fatal(err)
	}
	to := rxConn.LocalAddr().(*net.UDPAddr).AddrPort()
	buf, ds := sendBatch(to, 2, 1200, 1200, 1200)
	if err := tx.send(buf, ds, make([]byte, 0, sendOOBSpace)); err != nil {
		t.Fatal(err)
	}
	if !tx.gso.Load() || tx.gsoSends.Load() != 1 {
		t.Fatalf("GSO on %v, %d GSO sends", tx.gso.Load(), tx.gsoSends.Load())
	}
	_ = rxConn.SetReadDeadline(time.Now().Add(5 * time.Second))
	oob := make([]byte, recvOOBSpace)
	for i := range 3 {
		b := make([]byte, 2000)
		n, oobn, _, _, err := rxConn.ReadMsgUDPAddrPort(b, oob)
		if err != nil {
			t.Fatal(err)
		}
		if ecn, _ := parseRecvOOB(oob[:oobn]); n != 1200 || ecn != 2 || !bytes.Equal(b[:n], buf[i*1200:(i+1)*1200]) {
			t.Errorf("datagram %d: %d bytes, ecn %d", i, n, ecn)
		}
	}
}

func TestPacingBurstAndMaxFrags(t *testing.T) {
	for _, tc := range []struct{ dgram, want int }{
		{1452, 45},  // one full GSO batch
		{1200, 54},  // smaller datagrams, more of them
		{1000, 64},  // capped at the GSO segment limit
		{9000, 10},  // jumbo: the engine's default burst is the floor
		{65527, 10}, // likewise
	} {
		if got := pacingBurst(tc.dgram, 10); got != tc.want {
			t.Errorf("pacingBurst(%d) = %d, want %d", tc.dgram, got, tc.want)
		}
	}
	for _, tc := range []struct {
		window uint64
		want   uint32
	}{
		{256 << 10, 1024}, // small windows keep the engine's default
		{16 << 20, 16384}, // a 16 MB window of 1 KB fragments
		{1 << 40, 1 << 16},
	} {
		if got := maxFrags(1024, tc.window); got != tc.want {
			t.Errorf("maxFrags(%d) = %d, want %d", tc.window, got, tc.want)
		}
	}
}
