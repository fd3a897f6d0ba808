// Package perf is the transfer protocol of tquic-perf: a client opens
// streams that each upload and download a given number of bytes, both ends
// verify every byte with SHA-256, and datagrams are echoed. It runs over any
// transport.Connection (the kernel socket API, the user-space engine,
// quic-go), so one tool measures and checks them all the same way.
//
// On a stream the client sends a 16-byte header (upload and download
// lengths, big endian), the upload bytes and FIN. The server answers with
// the SHA-256 of what it received, the download bytes and the SHA-256 of
// those, then FIN.
package perf

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tquic/tquic/pkg/transport"
)

// MaxTransfer bounds what one stream may ask for (a server protects itself).
const MaxTransfer = 1 << 40

const headerLen = 16

// chunk is the write size: 64 KiB, as the benchmarks specify.
const chunk = 64 << 10

// fill writes a cheap, non-constant pattern (compressible data would hide
// nothing here, but a constant could hide offset bugs).
func fill(b []byte, off uint64) {
	for i := range b {
		v := off + uint64(i)
		b[i] = byte(v ^ v>>8 ^ v>>16)
	}
}

// Serve answers the streams and datagrams of one connection until the
// peer closes it or ctx ends.
func Serve(ctx context.Context, conn transport.Connection) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	if conn.State().Datagrams {
		wg.Add(1)
		go func() {
			defer wg.Done()
			echoDatagrams(ctx, conn)
		}()
	}
	for {
		s, err := conn.AcceptStream(ctx)
		if err != nil {
			return nil // the client closed, or ctx ended
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := ServeDuplex(s); err != nil {
				s.CancelRead(1)
				s.CancelWrite(1)
			}
		}()
	}
}

func echoDatagrams(ctx context.Context, conn transport.Connection) {
	for {
		d, err := conn.ReceiveDatagram(ctx)
		if err != nil {
			return
		}
		_ = conn.SendDatagram(d)
	}
}

// Duplex is one bidirectional byte stream: a QUIC stream, or a TCP or TLS
// connection for the comparisons.
type Duplex interface {
	io.ReadWriter
	// CloseWrite ends the sending direction (FIN).
	CloseWrite() error
}

// ServeDuplex answers one request on s.
func ServeDuplex(s Duplex) error {
	var hdr [headerLen]byte
	if _, err := io.ReadFull(s, hdr[:]); err != nil {
		return fmt.Errorf("read header: %w", err)
	}
	up, down := binary.BigEndian.Uint64(hdr[:8]), binary.BigEndian.Uint64(hdr[8:])
	if up > MaxTransfer || down > MaxTransfer {
		return fmt.Errorf("transfer of %d/%d bytes refused", up, down)
	}
	h := sha256.New()
	n, err := io.Copy(h, io.LimitReader(s, int64(up)))
	if err != nil {
		return fmt.Errorf("read upload: %w", err)
	}
	if uint64(n) != up {
		return fmt.Errorf("upload ended after %d of %d bytes", n, up)
	}
	if _, err := s.Write(h.Sum(nil)); err != nil {
		return fmt.Errorf("write upload digest: %w", err)
	}
	sum, err := writePattern(s, down)
	if err != nil {
		return err
	}
	if _, err := s.Write(sum); err != nil {
		return fmt.Errorf("write download digest: %w", err)
	}
	return s.CloseWrite()
}

// writePattern writes n pattern bytes in 64 KiB writes and returns their digest.
func writePattern(w io.Writer, n uint64) ([]byte, error) {
	h := sha256.New()
	buf := make([]byte, chunk)
	for off := uint64(0); off < n; {
		b := buf[:min(uint64(len(buf)), n-off)]
		fill(b, off)
		h.Write(b)
		if _, err := w.Write(b); err != nil {
			return nil, fmt.Errorf("write at %d of %d: %w", off, n, err)
		}
		off += uint64(len(b))
	}
	return h.Sum(nil), nil
}

// Options are what a client asks for.
type Options struct {
	Streams   int    // streams in total (>= 0)
	Parallel  int    // streams open at once (0: all)
	Upload    uint64 // bytes each stream sends
	Download  uint64 // bytes each stream receives
	Datagrams int    // datagrams to send and expect echoed
	// During runs while the transfer is in flight (a key update, a
	// migration); its error fails the run.
	During func() error
}

// Result is what a client measured. Bytes count payload, both directions.
type Result struct {
	Streams          int           `json:"streams"`
	BytesUp          uint64        `json:"bytes_up"`
	BytesDown        uint64        `json:"bytes_down"`
	Elapsed          time.Duration `json:"elapsed_ns"`
	Mbps             float64       `json:"mbps"`
	DatagramsSent    int           `json:"datagrams_sent"`
	DatagramsEchoed  int           `json:"datagrams_echoed"`
	VerifiedSHA256   bool          `json:"verified_sha256"`
	HandshakeElapsed time.Duration `json:"handshake_ns,omitempty"`
}

// Run performs the client side on conn and verifies every byte.
func Run(ctx context.Context, conn transport.Connection, o Options) (Result, error) {
	start := time.Now()
	res := Result{Streams: o.Streams}
	parallel := o.Parallel
	if parallel <= 0 || parallel > o.Streams {
		parallel = max(o.Streams, 1)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	var (
		mu       sync.Mutex
		firstErr error
		up, down atomic.Uint64
		wg       sync.WaitGroup
	)
	fail := func(err error) {
		mu.Lock()
		if firstErr == nil {
			firstErr = err
			cancel()
		}
		mu.Unlock()
	}
	echoed := make(chan int, 1)
	if o.Datagrams > 0 {
		e := newEchoes(o.Datagrams)
		go func() { echoed <- e.count(ctx, conn) }()
		if err := e.send(ctx, conn); err != nil {
			return res, err
		}
		res.DatagramsSent = o.Datagrams
	}
	sem := make(chan struct{}, parallel)
	for i := 0; i < o.Streams; i++ {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			u, d, err := runStream(ctx, conn, o.Upload, o.Download)
			up.Add(u)
			down.Add(d)
			if err != nil {
				fail(fmt.Errorf("stream %d: %w", i, err))
			}
		}(i)
		if i == o.Streams/2 && o.During != nil {
			if err := o.During(); err != nil {
				fail(fmt.Errorf("during the transfer: %w", err))
			}
		}
	}
	wg.Wait()
	if o.Streams == 0 && o.During != nil {
		if err := o.During(); err != nil {
			fail(fmt.Errorf("during the transfer: %w", err))
		}
	}
	if o.Datagrams > 0 {
		select {
		case n := <-echoed:
			res.DatagramsEchoed = n
		case <-time.After(5 * time.Second):
		}
	}
	res.Elapsed = time.Since(start)
	res.BytesUp, res.BytesDown = up.Load(), down.Load()
	if s := res.Elapsed.Seconds(); s > 0 {
		res.Mbps = float64(res.BytesUp+res.BytesDown) * 8 / s / 1e6
	}
	mu.Lock()
	defer mu.Unlock()
	if firstErr != nil {
		return res, firstErr
	}
	res.VerifiedSHA256 = o.Streams > 0
	return res, nil
}

// echoes tracks which numbered datagrams came back.
type echoes struct {
	want int
	mu   sync.Mutex
	seen map[uint64]bool
}

func newEchoes(want int) *echoes { return &echoes{want: want, seen: make(map[uint64]bool, want)} }

// datagramRounds bounds how often the datagrams not yet echoed are sent
// again: datagrams are unreliable, and the first ones may reach a peer that
// cannot read 1-RTT packets yet.
const datagramRounds = 5

// send sends every datagram, then again those not echoed, a round every
// 500 ms.
func (e *echoes) send(ctx context.Context, conn transport.Connection) error {
	for round := 0; round < datagramRounds; round++ {
		for i := 0; i < e.want; i++ {
			e.mu.Lock()
			done := e.seen[uint64(i)]
			e.mu.Unlock()
			if done {
				continue
			}
			d := make([]byte, 64)
			binary.BigEndian.PutUint64(d, uint64(i))
			if err := conn.SendDatagram(d); err != nil {
				return fmt.Errorf("send datagram %d: %w", i, err)
			}
		}
		select {
		case <-time.After(500 * time.Millisecond):
		case <-ctx.Done():
			return nil
		}
		e.mu.Lock()
		all := len(e.seen) == e.want
		e.mu.Unlock()
		if all {
			break
		}
	}
	return nil
}

// count receives echoes until all came back or 30 s passed; it returns how many.
func (e *echoes) count(ctx context.Context, conn transport.Connection) int {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		e.mu.Lock()
		n := len(e.seen)
		e.mu.Unlock()
		if n == e.want {
			return n
		}
		d, err := conn.ReceiveDatagram(ctx)
		if err != nil {
			return n
		}
		if len(d) >= 8 {
			if id := binary.BigEndian.Uint64(d); id < uint64(e.want) {
				e.mu.Lock()
				e.seen[id] = true
				e.mu.Unlock()
			}
		}
	}
}

// errDigest reports a transfer that arrived but not as it was sent.
var errDigest = errors.New("sha256 mismatch")

func runStream(ctx context.Context, conn transport.Connection, upload, download uint64) (up, down uint64, err error) {
	s, err := conn.OpenStream(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("open: %w", err)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = s.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { s.CancelRead(2); s.CancelWrite(2) })
	defer stop()
	return RunDuplex(s, upload, download)
}

// RunDuplex performs one request on s: it uploads and downloads the given
// byte counts and verifies both digests. It returns the payload bytes moved.
func RunDuplex(s Duplex, upload, download uint64) (up, down uint64, err error) {
	var hdr [headerLen]byte
	binary.BigEndian.PutUint64(hdr[:8], upload)
	binary.BigEndian.PutUint64(hdr[8:], download)
	if _, err := s.Write(hdr[:]); err != nil {
		return 0, 0, fmt.Errorf("write header: %w", err)
	}
	// Upload and download run at once, as a bidirectional transfer does.
	type upResult struct {
		sum []byte
		err error
	}
	upDone := make(chan upResult, 1)
	go func() {
		sum, err := writePattern(s, upload)
		if err == nil {
			err = s.CloseWrite()
		}
		upDone <- upResult{sum, err}
	}()
	var peerUpSum [sha256.Size]byte
	if _, err := io.ReadFull(s, peerUpSum[:]); err != nil {
		return 0, 0, fmt.Errorf("read upload digest: %w", err)
	}
	ur := <-upDone
	if ur.err != nil {
		return 0, 0, ur.err
	}
	up = upload
	if string(ur.sum) != string(peerUpSum[:]) {
		return up, 0, fmt.Errorf("upload: %w", errDigest)
	}
	h := sha256.New()
	n, err := io.Copy(h, io.LimitReader(s, int64(download)))
	down = uint64(n)
	if err != nil {
		return up, down, fmt.Errorf("read download: %w", err)
	}
	if down != download {
		return up, down, fmt.Errorf("download ended after %d of %d bytes", down, download)
	}
	if err := checkTrailer(s, h); err != nil {
		return up, down, err
	}
	return up, down, nil
}

func checkTrailer(s io.Reader, h hash.Hash) error {
	var sum [sha256.Size]byte
	if _, err := io.ReadFull(s, sum[:]); err != nil {
		return fmt.Errorf("read download digest: %w", err)
	}
	if string(h.Sum(nil)) != string(sum[:]) {
		return fmt.Errorf("download: %w", errDigest)
	}
	// Then FIN, and nothing more.
	var extra [1]byte
	if n, err := s.Read(extra[:]); n != 0 || !errors.Is(err, io.EOF) {
		return fmt.Errorf("after the digest: %d bytes, %v (want EOF)", n, err)
	}
	return nil
}
