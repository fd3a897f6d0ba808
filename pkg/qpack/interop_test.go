package qpack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"reflect"
	"testing"

	quicqpack "github.com/quic-go/qpack"
)

func sampleFields() [][]HeaderField {
	return [][]HeaderField{
		fields(":method", "GET", ":scheme", "https", ":authority", "example.com", ":path", "/"),
		fields(":status", "200", "content-type", "text/html; charset=utf-8", "content-length", "1234", "x-custom", "v"),
		fields(":method", "POST", ":path", "/upload?x=1", "content-type", "application/octet-stream", "cookie", ""),
		fields("authorization", "Bearer secret", "x-unknown-header", "some value with spaces", "accept", "*/*"),
		fields(":status", "404", "server", "tquic", "date", "Mon, 01 Jan 2024 00:00:00 GMT", "etag", `"abc"`),
	}
}

// TestInteropQuicGoQPACKDecodesOurs checks that quic-go/qpack (static only)
// decodes every static-only section we produce, Huffman on and off.
func TestInteropQuicGoQPACKDecodesOurs(t *testing.T) {
	for _, huff := range []bool{true, false} {
		e := NewEncoder()
		e.Huffman = huff
		for i, want := range sampleFields() {
			sec, err := e.EncodeFieldSection(uint64(4*i), want)
			if err != nil {
				t.Fatal(err)
			}
			dec := quicqpack.NewDecoder().Decode(sec)
			var got []HeaderField
			for {
				f, err := dec()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatalf("huffman=%v section %d: quic-go/qpack: %v", huff, i, err)
				}
				got = append(got, HeaderField{Name: f.Name, Value: f.Value})
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("huffman=%v section %d: got %v want %v", huff, i, got, want)
			}
		}
	}
}

// TestInteropWeDecodeQuicGoQPACK checks the other direction.
func TestInteropWeDecodeQuicGoQPACK(t *testing.T) {
	d := NewDecoder(0, 0)
	for i, want := range sampleFields() {
		var buf bytes.Buffer
		enc := quicqpack.NewEncoder(&buf)
		for _, f := range want {
			if err := enc.WriteField(quicqpack.HeaderField{Name: f.Name, Value: f.Value}); err != nil {
				t.Fatal(err)
			}
		}
		enc.Close()
		got, err := d.DecodeFieldSection(context.Background(), uint64(4*i), buf.Bytes())
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("section %d: %v %v", i, got, err)
		}
	}
}

// TestStaticTableMatchesQuicGo checks our static table entry by entry: for
// each entry, quic-go/qpack must emit an indexed line with the same index.
func TestStaticTableMatchesQuicGo(t *testing.T) {
	if len(staticTable) != 99 {
		t.Fatalf("static table has %d entries", len(staticTable))
	}
	for i, f := range staticTable {
		var buf bytes.Buffer
		enc := quicqpack.NewEncoder(&buf)
		enc.WriteField(quicqpack.HeaderField{Name: f.Name, Value: f.Value})
		b := buf.Bytes()[2:]
		idx, _, err := parseInt(b, 6)
		if err != nil || b[0]&0xc0 != 0xc0 || idx != uint64(i) {
			t.Errorf("entry %d %q=%q: quic-go encodes %x", i, f.Name, f.Value, b)
		}
	}
}

// browserRequests is a realistic page load: a document, then subresources,
// with the headers a current browser sends.
func browserRequests() [][]HeaderField {
	common := []string{
		"user-agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
		"sec-ch-ua", `"Google Chrome";v="131", "Chromium";v="131", "Not_A Brand";v="24"`,
		"sec-ch-ua-mobile", "?0",
		"sec-ch-ua-platform", `"Linux"`,
		"accept-encoding", "gzip, deflate, br, zstd",
		"accept-language", "en-US,en;q=0.9,de;q=0.8",
		"cookie", "session=7f3a9c2e1b4d8f6a0c5e9b2d4f7a1c3e; _ga=GA1.1.1234567890.1700000000; theme=dark; consent=yes",
	}
	paths := []struct{ path, dest, accept string }{
		{"/", "document", "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"},
		{"/static/css/main.3f2a.css", "style", "text/css,*/*;q=0.1"},
		{"/static/js/app.91bc.js", "script", "*/*"},
		{"/static/js/vendor.77de.js", "script", "*/*"},
		{"/static/img/logo.svg", "image", "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8"},
		{"/static/img/hero.webp", "image", "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8"},
		{"/api/v1/user", "empty", "application/json"},
		{"/api/v1/feed?page=1", "empty", "application/json"},
		{"/static/fonts/inter.woff2", "font", "*/*"},
		{"/favicon.ico", "image", "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8"},
	}
	var reqs [][]HeaderField
	for _, p := range paths {
		f := fields(":method", "GET", ":scheme", "https", ":authority", "www.example.com", ":path", p.path,
			"accept", p.accept, "sec-fetch-site", "same-origin", "sec-fetch-mode", "no-cors", "sec-fetch-dest", p.dest,
			"referer", "https://www.example.com/", "priority", "u=1, i")
		f = append(f, fields(common...)...)
		reqs = append(reqs, f)
	}
	return reqs
}

// compress encodes reqs in order with acknowledgments delivered after each
// request, and returns the total bytes on request and encoder streams.
func compress(t testing.TB, reqs [][]HeaderField, dynamic bool) int {
	e := NewEncoder()
	d := NewDecoder(DefaultMaxTableCapacity, 16)
	if dynamic {
		e.SetPeerSettings(DefaultMaxTableCapacity, 16)
	}
	total := 0
	for i, r := range reqs {
		sec, err := e.EncodeFieldSection(uint64(4*i), r)
		if err != nil {
			t.Fatal(err)
		}
		ins := e.EncoderStreamData()
		total += len(sec) + len(ins)
		if err := d.WriteEncoderStream(ins); err != nil {
			t.Fatal(err)
		}
		got, err := d.DecodeFieldSection(context.Background(), uint64(4*i), sec)
		if err != nil || !reflect.DeepEqual(got, r) {
			t.Fatalf("request %d did not round-trip: %v", i, err)
		}
		if err := e.WriteDecoderStream(d.DecoderStreamData()); err != nil {
			t.Fatal(err)
		}
	}
	return total
}

func TestDynamicTableCompressionRatio(t *testing.T) {
	reqs := browserRequests()
	static := compress(t, reqs, false)
	dynamic := compress(t, reqs, true)
	ratio := float64(static) / float64(dynamic)
	t.Logf("static-only %d bytes, dynamic %d bytes (incl. encoder stream), ratio %.2f", static, dynamic, ratio)
	if ratio < 3 {
		t.Fatalf("dynamic table compresses only %.2fx better than static-only", ratio)
	}
}

// TestRandomRoundTrip drives an encoder/decoder pair with random fields, a
// small table (constant eviction), delayed encoder streams (blocking),
// cancellations and capacity changes.
func TestRandomRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	names := []string{":path", "x-a", "x-b", "cookie", "accept", "user-agent", "authorization", "x-long"}
	e := NewEncoder()
	e.SetPeerSettings(300, 4)
	d := NewDecoder(300, 4)
	ctx := context.Background()
	type pendingSec struct {
		id  uint64
		sec []byte
		f   []HeaderField
	}
	var queue []pendingSec
	var encStream []byte
	for i := 0; i < 3000; i++ {
		var fs []HeaderField
		for j := rng.IntN(6); j >= 0; j-- {
			n := names[rng.IntN(len(names))]
			v := fmt.Sprintf("v%d", rng.IntN(12))
			if n == "x-long" {
				v = string(bytes.Repeat([]byte{'z'}, 100+rng.IntN(100)))
			}
			fs = append(fs, HeaderField{Name: n, Value: v, NeverIndex: rng.IntN(20) == 0})
		}
		id := uint64(4 * i)
		sec, err := e.EncodeFieldSection(id, fs)
		if err != nil {
			t.Fatal(err)
		}
		encStream = append(encStream, e.EncoderStreamData()...)
		queue = append(queue, pendingSec{id, sec, fs})
		if rng.IntN(3) == 0 || len(queue) > 3 {
			// Deliver the encoder stream, then all queued sections, some
			// of which are abandoned instead.
			if err := d.WriteEncoderStream(encStream); err != nil {
				t.Fatal(err)
			}
			encStream = nil
			for _, p := range queue {
				if rng.IntN(10) == 0 {
					d.CancelStream(p.id)
					continue
				}
				got, err := d.DecodeFieldSection(ctx, p.id, p.sec)
				if err != nil || !reflect.DeepEqual(got, p.f) {
					t.Fatalf("iteration %d stream %d: %v\ngot  %v\nwant %v", i, p.id, err, got, p.f)
				}
			}
			queue = nil
			if err := e.WriteDecoderStream(d.DecoderStreamData()); err != nil {
				t.Fatal(err)
			}
		}
	}
	if e.table.insertCount() < 100 || e.table.dropped == 0 {
		t.Fatalf("table barely used: %d inserts, %d evictions", e.table.insertCount(), e.table.dropped)
	}
}

func TestSetCapacityEvicts(t *testing.T) {
	e := NewEncoder()
	e.Huffman = false
	e.SetPeerSettings(capacity, maxBlocked)
	d := NewDecoder(capacity, maxBlocked)
	e.Insert("a", "1")
	e.Insert("b", "2")
	if err := e.SetCapacity(40); !errors.Is(err, ErrTableFull) {
		t.Fatalf("shrinking over unacknowledged entries: %v", err)
	}
	if err := d.WriteEncoderStream(e.EncoderStreamData()); err != nil {
		t.Fatal(err)
	}
	if err := e.WriteDecoderStream(d.DecoderStreamData()); err != nil {
		t.Fatal(err)
	}
	if err := e.SetCapacity(40); err != nil {
		t.Fatal(err)
	}
	if err := d.WriteEncoderStream(e.EncoderStreamData()); err != nil {
		t.Fatal(err)
	}
	if d.TableSize() != 34 || d.InsertCount() != 2 || e.table.size != 34 {
		t.Fatalf("after shrink: decoder size %d count %d, encoder size %d", d.TableSize(), d.InsertCount(), e.table.size)
	}
	if err := e.SetCapacity(capacity + 1); !errors.Is(err, ErrTableFull) {
		t.Fatalf("capacity above the peer's maximum: %v", err)
	}
}
