// Package qpack implements QPACK (RFC 9204), HTTP/3's field compression,
// with the dynamic table: encoder and decoder streams, Insert Count
// Increment, Section Acknowledgment and Stream Cancellation, blocked
// streams bounded by SETTINGS_QPACK_BLOCKED_STREAMS, capacity changes,
// Required Insert Count encoding and post-base indexing. Huffman coding
// comes from golang.org/x/net/http2/hpack.
//
// An HTTP/3 endpoint owns one Encoder (for the field sections it sends)
// and one Decoder (for those it receives). Both are transport-agnostic:
// bytes for the QPACK unidirectional streams go in through
// Decoder.WriteEncoderStream / Encoder.WriteDecoderStream and come out of
// Encoder.EncoderStreamData / Decoder.DecoderStreamData, to be written by
// the caller. An Encoder whose peer allows no dynamic table (capacity 0)
// produces static-only field sections.
package qpack

import (
	"errors"
	"fmt"
)

// HeaderField is one field line. NeverIndex marks a sensitive field: it is
// always sent as a literal with the N bit set, and never inserted.
type HeaderField struct {
	Name       string
	Value      string
	NeverIndex bool
}

// Size is the field's size as defined for the dynamic table and for
// SETTINGS_MAX_FIELD_SECTION_SIZE: name + value + 32.
func (f HeaderField) Size() uint64 { return entrySize(f.Name, f.Value) }

// Error categories; every error from this package wraps exactly one of
// them, and each maps onto an HTTP/3 error code.
var (
	// ErrDecompressionFailed: a field section cannot be decoded
	// (QPACK_DECOMPRESSION_FAILED, 0x200).
	ErrDecompressionFailed = errors.New("qpack: decompression failed")
	// ErrEncoderStream: invalid encoder stream data
	// (QPACK_ENCODER_STREAM_ERROR, 0x201).
	ErrEncoderStream = errors.New("qpack: encoder stream error")
	// ErrDecoderStream: invalid decoder stream data
	// (QPACK_DECODER_STREAM_ERROR, 0x202).
	ErrDecoderStream = errors.New("qpack: decoder stream error")
	// ErrFieldSectionTooLarge: the decoded fields exceed the configured
	// maximum field section size (a malformed message, not a QPACK error).
	ErrFieldSectionTooLarge = errors.New("qpack: field section exceeds size limit")
	// ErrStreamCanceled: a blocked decode was abandoned by CancelStream.
	ErrStreamCanceled = errors.New("qpack: stream canceled while blocked")
	// ErrTableFull: an explicit insertion did not fit without evicting an
	// entry that is still referenced or unacknowledged.
	ErrTableFull = errors.New("qpack: no room in dynamic table")
)

func wrap(kind error, format string, args ...any) error {
	return fmt.Errorf("%w: %s", kind, fmt.Sprintf(format, args...))
}

// encodeRequiredInsertCount implements RFC 9204 section 4.5.1.1.
func encodeRequiredInsertCount(ric, maxEntries uint64) uint64 {
	if ric == 0 {
		return 0
	}
	return ric%(2*maxEntries) + 1
}

// decodeRequiredInsertCount reverses encodeRequiredInsertCount given the
// decoder's total number of inserts.
func decodeRequiredInsertCount(enc, maxEntries, totalInserts uint64) (uint64, error) {
	if enc == 0 {
		return 0, nil
	}
	fullRange := 2 * maxEntries
	if enc > fullRange {
		return 0, wrap(ErrDecompressionFailed, "encoded required insert count %d exceeds %d", enc, fullRange)
	}
	maxValue := totalInserts + maxEntries
	maxWrapped := maxValue / fullRange * fullRange
	ric := maxWrapped + enc - 1
	if ric > maxValue {
		if ric <= fullRange {
			return 0, wrap(ErrDecompressionFailed, "invalid required insert count")
		}
		ric -= fullRange
	}
	if ric == 0 {
		return 0, wrap(ErrDecompressionFailed, "required insert count of zero encoded as non-zero")
	}
	return ric, nil
}
