package qpack

import (
	"errors"

	"golang.org/x/net/http2/hpack"
)

// errNeedMore means the input ends inside an instruction; more bytes may
// complete it (only meaningful for streams).
var errNeedMore = errors.New("qpack: incomplete instruction")

var errIntOverflow = errors.New("qpack: integer overflow")

// appendInt appends v with an n-bit prefix (RFC 7541 section 5.1); first
// carries the bits above the prefix.
func appendInt(b []byte, first byte, n uint8, v uint64) []byte {
	max := uint64(1)<<n - 1
	if v < max {
		return append(b, first|byte(v))
	}
	b = append(b, first|byte(max))
	v -= max
	for v >= 128 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

// parseInt decodes an n-bit prefix integer at the start of b, returning the
// value and the bytes consumed. Values above 2^62 are rejected.
func parseInt(b []byte, n uint8) (uint64, int, error) {
	if len(b) == 0 {
		return 0, 0, errNeedMore
	}
	max := uint64(1)<<n - 1
	v := uint64(b[0]) & max
	if v < max {
		return v, 1, nil
	}
	var shift uint
	for i := 1; i < len(b); i++ {
		c := b[i]
		if shift > 56 {
			return 0, 0, errIntOverflow
		}
		v += uint64(c&0x7f) << shift
		if v > 1<<62 {
			return 0, 0, errIntOverflow
		}
		if c&0x80 == 0 {
			return v, i + 1, nil
		}
		shift += 7
	}
	return 0, 0, errNeedMore
}

// appendString appends a string literal whose H flag is the bit just above
// an n-bit length prefix; first carries the bits above the H flag.
func appendString(b []byte, first byte, n uint8, s string, huffman bool) []byte {
	if huffman {
		if hl := hpack.HuffmanEncodeLength(s); hl < uint64(len(s)) {
			b = appendInt(b, first|1<<n, n, hl)
			return hpack.AppendHuffmanString(b, s)
		}
	}
	b = appendInt(b, first, n, uint64(len(s)))
	return append(b, s...)
}

// parseString decodes a string literal with an n-bit length prefix (H flag
// just above it) at the start of b. maxLen bounds the decoded length.
func parseString(b []byte, n uint8, maxLen uint64) (string, int, error) {
	if len(b) == 0 {
		return "", 0, errNeedMore
	}
	huff := b[0]&(1<<n) != 0
	l, c, err := parseInt(b, n)
	if err != nil {
		return "", 0, err
	}
	if uint64(len(b)-c) < l {
		// Check the limit early so that a stream parser does not buffer
		// an absurd declared length while waiting for more bytes.
		if l > maxLen*2+16 {
			return "", 0, errStringTooLong
		}
		return "", 0, errNeedMore
	}
	raw := b[c : c+int(l)]
	if !huff {
		if l > maxLen {
			return "", 0, errStringTooLong
		}
		return string(raw), c + int(l), nil
	}
	if l*8/5 > maxLen+8 {
		return "", 0, errStringTooLong
	}
	s, err := hpack.HuffmanDecodeToString(raw)
	if err != nil {
		return "", 0, errors.Join(errBadHuffman, err)
	}
	if uint64(len(s)) > maxLen {
		return "", 0, errStringTooLong
	}
	return s, c + int(l), nil
}

var (
	errStringTooLong = errors.New("qpack: string literal too long")
	errBadHuffman    = errors.New("qpack: invalid Huffman encoding")
)
