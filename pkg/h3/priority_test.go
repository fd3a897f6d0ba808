package h3_test

import (
	"fmt"
	"io"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tquic/tquic/pkg/h3"
)

func TestParsePriority(t *testing.T) {
	cases := map[string]h3.Priority{
		"":                {Urgency: 3},
		"u=0":             {Urgency: 0},
		"u=7, i":          {Urgency: 7, Incremental: true},
		"i=?1, u=1":       {Urgency: 1, Incremental: true},
		"u=9":             {Urgency: 3}, // out of range: ignored
		"u=2;x=1, i=?0":   {Urgency: 2},
		"foo=bar, u=5":    {Urgency: 5},
		"u=x":             {Urgency: 3},
		"i=?2":            {Urgency: 3},
		" u=4 ,   i ":     {Urgency: 4, Incremental: true},
		"u=1, u=6":        {Urgency: 6}, // last one wins
		"u=0, i, u=0, i ": {Urgency: 0, Incremental: true},
	}
	for in, want := range cases {
		if got := h3.ParsePriority(in, h3.DefaultPriority); got != want {
			t.Errorf("ParsePriority(%q) = %+v, want %+v", in, got, want)
		}
	}
	if s := (h3.Priority{Urgency: 5, Incremental: true}).String(); s != "u=5, i" {
		t.Errorf("String = %q", s)
	}
}

// TestPriorityUrgentFirst starts urgency-7 and urgency-0 responses at the
// same moment (a barrier in the handler releases them together) and
// records the order in which the client finishes reading them: every
// urgent response must complete before any background one.
func TestPriorityUrgentFirst(t *testing.T) {
	const perClass = 4
	const size = 1 << 20
	tp := newTLS(t)
	var arrived sync.WaitGroup
	arrived.Add(2 * perClass)
	release := make(chan struct{})
	go func() { arrived.Wait(); close(release) }()
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived.Done()
		<-release
		io.CopyBuffer(w, newPayload(size), make([]byte, 32<<10))
	})
	_, addr := ourServer(t, tp, handler, nil)
	c := ourClient(t, tp)
	ctx := testCtx(t, time.Minute)

	var rank atomic.Int64
	type result struct {
		urgency int
		rank    int64
	}
	results := make(chan result, 2*perClass)
	var wg sync.WaitGroup
	for i := range 2 * perClass {
		urgency := 7
		if i%2 == 1 {
			urgency = 0
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("https://%s/big?i=%d", addr, i), nil)
			req.Header.Set("Priority", fmt.Sprintf("u=%d", urgency))
			resp, err := c.RoundTrip(req)
			if err != nil {
				t.Error(err)
				return
			}
			n, err := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if err != nil || n != size {
				t.Errorf("read %d bytes: %v", n, err)
				return
			}
			results <- result{urgency, rank.Add(1)}
		}()
	}
	wg.Wait()
	close(results)
	var urgent, background []int64
	for r := range results {
		if r.urgency == 0 {
			urgent = append(urgent, r.rank)
		} else {
			background = append(background, r.rank)
		}
	}
	sort.Slice(urgent, func(i, j int) bool { return urgent[i] < urgent[j] })
	sort.Slice(background, func(i, j int) bool { return background[i] < background[j] })
	t.Logf("completion ranks: urgency 0 %v, urgency 7 %v", urgent, background)
	if len(urgent) != perClass || len(background) != perClass || urgent[perClass-1] > background[0] {
		t.Fatalf("urgent responses did not all finish first: urgency 0 %v, urgency 7 %v", urgent, background)
	}
}
