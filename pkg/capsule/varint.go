package capsule

import (
	"errors"
	"fmt"
	"io"
)

// MaxVarint is the largest value a QUIC variable-length integer holds.
const MaxVarint = 1<<62 - 1

// ErrVarintRange is returned when a value does not fit in a varint.
var ErrVarintRange = errors.New("capsule: value exceeds 2^62-1")

// VarintLen returns the encoded length of v (1, 2, 4 or 8 bytes); v must be
// at most MaxVarint.
func VarintLen(v uint64) int {
	switch {
	case v <= 63:
		return 1
	case v <= 16383:
		return 2
	case v <= 1073741823:
		return 4
	default:
		return 8
	}
}

// AppendVarint appends v as a QUIC variable-length integer (RFC 9000
// section 16) in its shortest form. It panics if v exceeds MaxVarint, which
// is a programming error; values read from the network never do.
func AppendVarint(b []byte, v uint64) []byte {
	switch VarintLen(v) {
	case 1:
		return append(b, byte(v))
	case 2:
		return append(b, 0x40|byte(v>>8), byte(v))
	case 4:
		return append(b, 0x80|byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
	default:
		if v > MaxVarint {
			panic(fmt.Sprintf("capsule: varint %d out of range", v))
		}
		return append(b, 0xc0|byte(v>>56), byte(v>>48), byte(v>>40), byte(v>>32),
			byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
	}
}

// ParseVarint decodes a varint at the start of b and returns it with its
// length. It returns io.ErrUnexpectedEOF when b is too short.
func ParseVarint(b []byte) (uint64, int, error) {
	if len(b) == 0 {
		return 0, 0, io.ErrUnexpectedEOF
	}
	n := 1 << (b[0] >> 6)
	if len(b) < n {
		return 0, 0, io.ErrUnexpectedEOF
	}
	v := uint64(b[0] & 0x3f)
	for i := 1; i < n; i++ {
		v = v<<8 | uint64(b[i])
	}
	return v, n, nil
}

// ReadVarint reads one varint from r. It returns io.EOF when r ends before
// the first byte and io.ErrUnexpectedEOF when it ends inside the varint.
func ReadVarint(r io.ByteReader) (uint64, error) {
	first, err := r.ReadByte()
	if err != nil {
		return 0, err
	}
	n := 1 << (first >> 6)
	v := uint64(first & 0x3f)
	for i := 1; i < n; i++ {
		c, err := r.ReadByte()
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return 0, err
		}
		v = v<<8 | uint64(c)
	}
	return v, nil
}
