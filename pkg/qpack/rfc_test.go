package qpack

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

// hx decodes the RFC's hex dumps ("0381 10" etc.).
func hx(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func fields(kv ...string) []HeaderField {
	var f []HeaderField
	for i := 0; i < len(kv); i += 2 {
		f = append(f, HeaderField{Name: kv[i], Value: kv[i+1]})
	}
	return f
}

// The byte strings of RFC 9204 appendix B.
const (
	b1Stream0  = "0000 510b 2f69 6e64 6578 2e68 746d 6c"
	b2Encoder  = "3fbd01 c00f 7777 772e 6578 616d 706c 652e 636f 6d c10c 2f73 616d 706c 652f 7061 7468"
	b2Stream4  = "0381 10 11"
	b2Decoder  = "84"
	b3Encoder  = "4a63 7573 746f 6d2d 6b65 790c 6375 7374 6f6d 2d76 616c 7565"
	b3Decoder  = "01"
	b4Encoder  = "02"
	b4Stream8  = "0500 80 c1 81"
	b4Decoder  = "48"
	b5Encoder  = "810d 6375 7374 6f6d 2d76 616c 7565 32"
	capacity   = 220
	maxBlocked = 100
)

func TestRFC9204AppendixBEncode(t *testing.T) {
	e := NewEncoder()
	e.Huffman = false // the RFC's examples use raw literals

	// B.1: static-only (no SETTINGS from the peer yet).
	sec, err := e.EncodeFieldSection(0, fields(":path", "/index.html"))
	if err != nil || !bytes.Equal(sec, hx(t, b1Stream0)) {
		t.Fatalf("B.1 section = %x, %v", sec, err)
	}
	if out := e.EncoderStreamData(); len(out) != 0 {
		t.Fatalf("B.1 encoder stream = %x", out)
	}

	// B.2: the peer allows 220 bytes; the section inserts two entries and
	// references them post-base.
	e.SetPeerSettings(capacity, maxBlocked)
	sec, err = e.EncodeFieldSection(4, fields(":authority", "www.example.com", ":path", "/sample/path"))
	if err != nil {
		t.Fatal(err)
	}
	if out := e.EncoderStreamData(); !bytes.Equal(out, hx(t, b2Encoder)) {
		t.Fatalf("B.2 encoder stream = %x", out)
	}
	if !bytes.Equal(sec, hx(t, b2Stream4)) {
		t.Fatalf("B.2 stream 4 = %x", sec)
	}
	if e.refs[0] != 1 || e.refs[1] != 1 {
		t.Fatalf("B.2 refs = %v", e.refs)
	}
	if err := e.WriteDecoderStream(hx(t, b2Decoder)); err != nil {
		t.Fatal(err)
	}
	if e.knownRecv != 2 || e.refs[0] != 0 || e.refs[1] != 0 || e.table.size != 106 {
		t.Fatalf("B.2 after ack: known=%d refs=%v size=%d", e.knownRecv, e.refs, e.table.size)
	}

	// B.3: speculative insert with a literal name.
	if err := e.Insert("custom-key", "custom-value"); err != nil {
		t.Fatal(err)
	}
	if out := e.EncoderStreamData(); !bytes.Equal(out, hx(t, b3Encoder)) {
		t.Fatalf("B.3 encoder stream = %x", out)
	}
	if err := e.WriteDecoderStream(hx(t, b3Decoder)); err != nil {
		t.Fatal(err)
	}
	if e.knownRecv != 3 || e.table.size != 160 {
		t.Fatalf("B.3: known=%d size=%d", e.knownRecv, e.table.size)
	}

	// B.4: duplicate, a section referencing it, then a cancellation.
	if err := e.Duplicate(0); err != nil {
		t.Fatal(err)
	}
	if out := e.EncoderStreamData(); !bytes.Equal(out, hx(t, b4Encoder)) {
		t.Fatalf("B.4 encoder stream = %x", out)
	}
	sec, err = e.EncodeFieldSection(8, fields(":authority", "www.example.com", ":path", "/", "custom-key", "custom-value"))
	if err != nil || !bytes.Equal(sec, hx(t, b4Stream8)) {
		t.Fatalf("B.4 stream 8 = %x, %v", sec, err)
	}
	if out := e.EncoderStreamData(); len(out) != 0 {
		t.Fatalf("B.4 section emitted encoder instructions %x", out)
	}
	if e.refs[2] != 1 || e.refs[3] != 1 || e.table.size != 217 {
		t.Fatalf("B.4 refs=%v size=%d", e.refs, e.table.size)
	}
	if err := e.WriteDecoderStream(hx(t, b4Decoder)); err != nil {
		t.Fatal(err)
	}
	if e.refs[2] != 0 || e.refs[3] != 0 || e.knownRecv != 3 {
		t.Fatalf("B.4 after cancel: refs=%v known=%d", e.refs, e.knownRecv)
	}

	// B.5: an insert with a dynamic name reference evicts entry 0.
	if err := e.Insert("custom-key", "custom-value2"); err != nil {
		t.Fatal(err)
	}
	if out := e.EncoderStreamData(); !bytes.Equal(out, hx(t, b5Encoder)) {
		t.Fatalf("B.5 encoder stream = %x", out)
	}
	if e.table.dropped != 1 || e.table.size != 215 || e.table.insertCount() != 5 {
		t.Fatalf("B.5 table: dropped=%d size=%d count=%d", e.table.dropped, e.table.size, e.table.insertCount())
	}
}

func TestRFC9204AppendixBDecode(t *testing.T) {
	ctx := context.Background()
	d := NewDecoder(capacity, maxBlocked)

	got, err := d.DecodeFieldSection(ctx, 0, hx(t, b1Stream0))
	if err != nil || !reflect.DeepEqual(got, fields(":path", "/index.html")) {
		t.Fatalf("B.1: %v %v", got, err)
	}
	if out := d.DecoderStreamData(); len(out) != 0 {
		t.Fatalf("B.1 decoder stream %x", out)
	}

	if err := d.WriteEncoderStream(hx(t, b2Encoder)); err != nil {
		t.Fatal(err)
	}
	got, err = d.DecodeFieldSection(ctx, 4, hx(t, b2Stream4))
	if err != nil || !reflect.DeepEqual(got, fields(":authority", "www.example.com", ":path", "/sample/path")) {
		t.Fatalf("B.2: %v %v", got, err)
	}
	if out := d.DecoderStreamData(); !bytes.Equal(out, hx(t, b2Decoder)) {
		t.Fatalf("B.2 decoder stream %x", out)
	}
	if d.TableSize() != 106 {
		t.Fatalf("B.2 size %d", d.TableSize())
	}

	if err := d.WriteEncoderStream(hx(t, b3Encoder)); err != nil {
		t.Fatal(err)
	}
	if out := d.DecoderStreamData(); !bytes.Equal(out, hx(t, b3Decoder)) {
		t.Fatalf("B.3 decoder stream %x", out)
	}

	// B.4: the encoder stream packet (the duplicate) is delayed, so stream
	// 8 blocks; the decoder then cancels the stream.
	blocked := make(chan struct{})
	d.blockedHook = func() { close(blocked) }
	res := make(chan error, 1)
	go func() {
		_, err := d.DecodeFieldSection(ctx, 8, hx(t, b4Stream8))
		res <- err
	}()
	<-blocked
	if d.BlockedStreams() != 1 {
		t.Fatalf("blocked streams = %d", d.BlockedStreams())
	}
	d.CancelStream(8)
	if err := <-res; !errors.Is(err, ErrStreamCanceled) {
		t.Fatalf("B.4 blocked decode: %v", err)
	}
	if out := d.DecoderStreamData(); !bytes.Equal(out, hx(t, b4Decoder)) {
		t.Fatalf("B.4 decoder stream %x", out)
	}
	d.blockedHook = nil
	if err := d.WriteEncoderStream(hx(t, b4Encoder)); err != nil {
		t.Fatal(err)
	}
	// Now the same section decodes (as if it had been retransmitted).
	got, err = d.DecodeFieldSection(ctx, 8, hx(t, b4Stream8))
	if err != nil || !reflect.DeepEqual(got, fields(":authority", "www.example.com", ":path", "/", "custom-key", "custom-value")) {
		t.Fatalf("B.4: %v %v", got, err)
	}
	d.DecoderStreamData()

	if err := d.WriteEncoderStream(hx(t, b5Encoder)); err != nil {
		t.Fatal(err)
	}
	if d.TableSize() != 215 || d.InsertCount() != 5 {
		t.Fatalf("B.5 size=%d count=%d", d.TableSize(), d.InsertCount())
	}
	if _, ok := d.table.get(0); ok {
		t.Fatal("B.5 entry 0 not evicted")
	}
	if f, ok := d.table.get(4); !ok || f.Name != "custom-key" || f.Value != "custom-value2" {
		t.Fatalf("B.5 entry 4 = %v", f)
	}
}

// TestEncoderStreamSplit feeds the B.2..B.5 encoder stream one byte at a
// time: instructions may be split anywhere.
func TestEncoderStreamSplit(t *testing.T) {
	d := NewDecoder(capacity, maxBlocked)
	all := hx(t, b2Encoder+b3Encoder+b4Encoder+b5Encoder)
	for i := range all {
		if err := d.WriteEncoderStream(all[i : i+1]); err != nil {
			t.Fatalf("byte %d: %v", i, err)
		}
	}
	if d.InsertCount() != 5 || d.TableSize() != 215 {
		t.Fatalf("count=%d size=%d", d.InsertCount(), d.TableSize())
	}
}

func TestRequiredInsertCountWraps(t *testing.T) {
	// RFC 9204 section 4.5.1.1's example: capacity 100 (MaxEntries 3),
	// 10 inserts received, encoded value 4 means Required Insert Count 9.
	ric, err := decodeRequiredInsertCount(4, 3, 10)
	if err != nil || ric != 9 {
		t.Fatalf("decode = %d, %v", ric, err)
	}
	for total := uint64(0); total < 50; total++ {
		for r := uint64(1); r <= total; r++ {
			if r+3 <= total { // encoder may only be at most MaxEntries ahead... of the decoder's view
				continue
			}
			enc := encodeRequiredInsertCount(r, 3)
			got, err := decodeRequiredInsertCount(enc, 3, total)
			if err != nil || got != r {
				t.Fatalf("ric %d total %d: enc %d -> %d %v", r, total, enc, got, err)
			}
		}
	}
	if _, err := decodeRequiredInsertCount(7, 3, 10); !errors.Is(err, ErrDecompressionFailed) {
		t.Fatalf("out of range encoded value: %v", err)
	}
}

func TestBlockedStreamsLimit(t *testing.T) {
	e := NewEncoder()
	e.SetPeerSettings(capacity, 1)
	d := NewDecoder(capacity, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// Stream 0 inserts and references a new entry: it may block.
	s0, _ := e.EncodeFieldSection(0, fields("x-a", "1"))
	ins0 := e.EncoderStreamData()
	// Stream 4 may not block too: the budget is one stream.
	s4, _ := e.EncodeFieldSection(4, fields("x-a", "1", "x-b", "2"))
	ins4 := e.EncoderStreamData()
	if encodeRIC, _, _ := parseInt(s4, 8); encodeRIC != 0 {
		t.Fatalf("second stream references unacknowledged entries: %x", s4)
	}
	// The decoder blocks on stream 0 until the encoder stream arrives.
	blocked := make(chan struct{})
	d.blockedHook = func() { close(blocked) }
	res := make(chan error, 1)
	go func() {
		f, err := d.DecodeFieldSection(ctx, 0, s0)
		if err == nil && !reflect.DeepEqual(f, fields("x-a", "1")) {
			err = errors.New("wrong fields")
		}
		res <- err
	}()
	<-blocked
	// A second blocked stream exceeds the decoder's limit.
	if _, err := d.DecodeFieldSection(ctx, 8, s0); !errors.Is(err, ErrDecompressionFailed) {
		t.Fatalf("second blocked stream: %v", err)
	}
	if err := d.WriteEncoderStream(append(ins0, ins4...)); err != nil {
		t.Fatal(err)
	}
	if err := <-res; err != nil {
		t.Fatal(err)
	}
	f, err := d.DecodeFieldSection(ctx, 4, s4)
	if err != nil || !reflect.DeepEqual(f, fields("x-a", "1", "x-b", "2")) {
		t.Fatalf("stream 4: %v %v", f, err)
	}
	if err := e.WriteDecoderStream(d.DecoderStreamData()); err != nil {
		t.Fatal(err)
	}
	// Everything is acknowledged: the next section uses the table freely.
	s8, _ := e.EncodeFieldSection(8, fields("x-a", "1", "x-b", "2"))
	if len(s8) != 4 { // prefix (2) + two one-byte indexed lines
		t.Fatalf("acknowledged entries not used: %x", s8)
	}
}

func TestDecoderRejectsBadInput(t *testing.T) {
	ctx := context.Background()
	cases := map[string]struct {
		encoder string
		section string
		want    error
	}{
		"static index out of range":   {section: "0000 ff3f"},
		"dynamic ref beyond RIC":      {encoder: b2Encoder, section: "0381 10 12"},
		"relative ref not below base": {encoder: b2Encoder, section: "0300 82"},
		"truncated string":            {section: "0000 510b 2f69"},
		"truncated prefix":            {section: "00"},
		"negative base":               {encoder: b2Encoder, section: "0385 10"},
		"bad huffman":                 {section: "0000 5181 ff"},
		"capacity too large":          {encoder: "3fe101", want: ErrEncoderStream},
		"entry larger than capacity":  {encoder: "3f01 c001 61", want: ErrEncoderStream},
		"duplicate beyond count":      {encoder: "3fbd01 05", want: ErrEncoderStream},
	}
	for name, c := range cases {
		d := NewDecoder(capacity, maxBlocked)
		err := d.WriteEncoderStream(hx(t, c.encoder))
		if c.want == ErrEncoderStream {
			if !errors.Is(err, ErrEncoderStream) {
				t.Errorf("%s: encoder stream error = %v", name, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if _, err := d.DecodeFieldSection(ctx, 0, hx(t, c.section)); !errors.Is(err, ErrDecompressionFailed) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// Field section size limit.
	d := NewDecoder(0, 0)
	d.SetMaxFieldSectionSize(48)
	if _, err := d.DecodeFieldSection(ctx, 0, hx(t, b1Stream0)); err != nil {
		t.Fatalf("small section: %v", err)
	}
	d.SetMaxFieldSectionSize(47)
	if _, err := d.DecodeFieldSection(ctx, 0, hx(t, b1Stream0)); !errors.Is(err, ErrFieldSectionTooLarge) {
		t.Fatalf("oversized section: %v", err)
	}
	// Decoder stream errors at the encoder.
	e := NewEncoder()
	if err := e.WriteDecoderStream([]byte{0x84}); !errors.Is(err, ErrDecoderStream) {
		t.Fatalf("ack without section: %v", err)
	}
	e = NewEncoder()
	if err := e.WriteDecoderStream([]byte{0x01}); !errors.Is(err, ErrDecoderStream) {
		t.Fatalf("increment beyond inserts: %v", err)
	}
}
