package bridge

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"hash"
	"io"
	"testing"
	"time"

	"github.com/tquic/tquic/internal/quicgoadapter"
	"github.com/tquic/tquic/pkg/transport"
)

var _ io.WriterTo = (*Stream)(nil)

// failingWriter takes limit bytes, then fails.
type failingWriter struct {
	h     hash.Hash
	limit int
}

var errWriterFull = errors.New("writer full")

func (w *failingWriter) Write(p []byte) (int, error) {
	if len(p) > w.limit {
		n, _ := w.h.Write(p[:w.limit])
		w.limit = 0
		return n, errWriterFull
	}
	w.limit -= len(p)
	return w.h.Write(p)
}

// TestStreamWriteTo: io.Copy from a stream hands the writer the engine's
// buffers: every byte arrives in order, a peer's reset and the writer's
// own error end the copy with that error, and no buffer is left behind.
func TestStreamWriteTo(t *testing.T) {
	stls, ctls, err := quicgoadapter.SelfSignedTLS("writeto")
	if err != nil {
		t.Fatal(err)
	}
	before := liveBufs()
	p := bridgePair(t, stls, ctls)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	data := make([]byte, 8<<20)
	if _, err := rand.Read(data); err != nil {
		t.Fatal(err)
	}
	// send writes n bytes of data on a new stream; reset cancels it
	// instead of closing it.
	send := func(n int, reset bool) {
		s, err := p.client.OpenStream(ctx)
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			if _, err := s.Write(data[:n]); err != nil {
				return
			}
			if reset {
				s.CancelWrite(7)
				return
			}
			_ = s.Close()
		}()
	}

	send(len(data), false)
	s, err := p.server.AcceptStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	n, err := io.Copy(h, s)
	if err != nil || n != int64(len(data)) {
		t.Fatalf("copied %d of %d bytes: %v", n, len(data), err)
	}
	if want := sha256.Sum256(data); [32]byte(h.Sum(nil)) != want {
		t.Fatal("data differs")
	}

	send(1<<20, true)
	if s, err = p.server.AcceptStream(ctx); err != nil {
		t.Fatal(err)
	}
	n, err = io.Copy(io.Discard, s)
	var se *transport.StreamError
	if !errors.As(err, &se) || se.ErrorCode != 7 || !se.Remote || n > 1<<20 {
		t.Fatalf("after %d bytes: %v, want the peer's reset with code 7", n, err)
	}

	send(2<<20, false)
	if s, err = p.server.AcceptStream(ctx); err != nil {
		t.Fatal(err)
	}
	w := &failingWriter{h: sha256.New(), limit: 100000}
	n, err = io.Copy(w, s)
	if !errors.Is(err, errWriterFull) || n != 100000 {
		t.Fatalf("copied %d bytes: %v, want 100000 and the writer's error", n, err)
	}
	if want := sha256.Sum256(data[:100000]); [32]byte(w.h.Sum(nil)) != want {
		t.Fatal("data before the writer's error differs")
	}
	s.CancelRead(8)

	p.close()
	deadline := time.Now().Add(5 * time.Second)
	for liveBufs() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if after := liveBufs(); after > before {
		t.Fatalf("buffers leaked: %d before, %d after", before, after)
	}
}
