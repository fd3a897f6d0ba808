package qpack

import (
	"context"
	"errors"
	"testing"
)

// FuzzDecodeFieldSection feeds arbitrary encoder-stream bytes and a field
// section to a decoder: it must never panic, and any error must be one of
// the package's categories.
func FuzzDecodeFieldSection(f *testing.F) {
	f.Add([]byte{}, []byte{0, 0, 0x51, 0x0b, '/', 'i', 'n', 'd', 'e', 'x', '.', 'h', 't', 'm', 'l'})
	f.Add([]byte("\x3f\xbd\x01\xc0\x0fwww.example.com\xc1\x0c/sample/path"), []byte{0x03, 0x81, 0x10, 0x11})
	f.Add([]byte("\x3f\xbd\x01\x4acustom-key\x0ccustom-value\x00"), []byte{0x03, 0x00, 0x80, 0xc1, 0x81})
	f.Fuzz(func(t *testing.T, enc, sec []byte) {
		d := NewDecoder(220, 4)
		d.SetMaxFieldSectionSize(4096)
		err := d.WriteEncoderStream(enc)
		if err != nil && !errors.Is(err, ErrEncoderStream) {
			t.Fatalf("encoder stream error of unexpected kind: %v", err)
		}
		// A section that would block returns at once: the context is
		// already canceled.
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err = d.DecodeFieldSection(ctx, 0, sec)
		if err != nil && !errors.Is(err, ErrDecompressionFailed) && !errors.Is(err, ErrFieldSectionTooLarge) && !errors.Is(err, context.Canceled) {
			t.Fatalf("decode error of unexpected kind: %v", err)
		}
		d.DecoderStreamData()
	})
}

// FuzzEncoderInstructions splits arbitrary encoder-stream bytes at a fuzzed
// point: the result must not depend on how the stream is split.
func FuzzEncoderInstructions(f *testing.F) {
	f.Add([]byte("\x3f\xbd\x01\xc0\x0fwww.example.com\xc1\x0c/sample/path\x4acustom-key\x0ccustom-value\x02\x81\x0dcustom-value2"), uint16(7))
	f.Add([]byte{0x3f, 0xe1, 0x01}, uint16(1))
	f.Fuzz(func(t *testing.T, enc []byte, split uint16) {
		whole := NewDecoder(220, 4)
		errWhole := whole.WriteEncoderStream(enc)
		parts := NewDecoder(220, 4)
		cut := int(split) % (len(enc) + 1)
		errParts := parts.WriteEncoderStream(enc[:cut])
		if errParts == nil {
			errParts = parts.WriteEncoderStream(enc[cut:])
		}
		if (errWhole == nil) != (errParts == nil) {
			t.Fatalf("split at %d changes the outcome: %v vs %v", cut, errWhole, errParts)
		}
		if errWhole == nil && (whole.InsertCount() != parts.InsertCount() || whole.TableSize() != parts.TableSize()) {
			t.Fatalf("split at %d changes the table", cut)
		}
		if errWhole != nil && !errors.Is(errWhole, ErrEncoderStream) {
			t.Fatalf("unexpected error kind: %v", errWhole)
		}
	})
}
