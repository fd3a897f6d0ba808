package webtransport

import (
	"context"
	"fmt"
	"sync"
)

// unlimited stands for "no flow control": the session's flow control was
// not negotiated.
const unlimited = uint64(1) << 62

// sendCredit is a limit the peer granted us: bytes of stream data or a
// number of streams. Consumers wait for credit; the peer raises the limit
// with WT_MAX_DATA / WT_MAX_STREAMS.
type sendCredit struct {
	mu          sync.Mutex
	max         uint64
	used        uint64
	blockedSent uint64 // the limit for which *_BLOCKED was last sent (+1)
	changed     chan struct{}
}

func newSendCredit(max uint64) *sendCredit {
	return &sendCredit{max: max, changed: make(chan struct{})}
}

// take waits until credit is available and takes up to n units (at least
// one). blocked is called, once per limit, when the caller has to wait.
func (c *sendCredit) take(ctx context.Context, n uint64, done <-chan struct{}, blocked func(limit uint64)) (uint64, error) {
	for {
		c.mu.Lock()
		if c.used < c.max {
			got := min(n, c.max-c.used)
			c.used += got
			c.mu.Unlock()
			return got, nil
		}
		notify := blocked != nil && c.blockedSent != c.max+1
		if notify {
			c.blockedSent = c.max + 1
		}
		limit, ch := c.max, c.changed
		c.mu.Unlock()
		if notify {
			blocked(limit)
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-done:
			return 0, ErrSessionGone
		}
	}
}

// raise applies a new limit from the peer. Limits never decrease: a
// smaller value is ignored (WT_MAX_* are cumulative).
func (c *sendCredit) raise(max uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if max <= c.max {
		return
	}
	c.max = max
	close(c.changed)
	c.changed = make(chan struct{})
}

// limit returns the current limit.
func (c *sendCredit) limit() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.max
}

// recvLimit is a limit we granted the peer: consumed counts what it used;
// when the room left falls under half the window, a new limit is issued.
type recvLimit struct {
	mu       sync.Mutex
	window   uint64
	max      uint64
	consumed uint64 // units used by the peer
	released uint64 // units the application finished with
	what     string
}

func newRecvLimit(window uint64, what string) *recvLimit {
	return &recvLimit{window: window, max: window, what: what}
}

// use records units the peer used. It fails when the peer went past the
// limit.
func (l *recvLimit) use(n uint64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.consumed+n > l.max {
		return fmt.Errorf("%w: peer used %d %s, limit %d", ErrFlowControl, l.consumed+n, l.what, l.max)
	}
	l.consumed += n
	return nil
}

// release records units the application is done with and returns a new
// limit to announce, or 0 when none is due yet.
func (l *recvLimit) release(n uint64) uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.window >= unlimited {
		return 0
	}
	l.released += n
	if l.max-l.released > l.window/2 {
		return 0
	}
	l.max = l.released + l.window
	return l.max
}
