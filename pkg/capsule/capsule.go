// Package capsule implements the Capsule Protocol and HTTP Datagrams of
// RFC 9297, shared by HTTP/3 extended CONNECT users: WebTransport, and
// MASQUE's CONNECT-UDP and CONNECT-IP.
//
// A capsule is Type (varint) || Length (varint) || Value. Capsules travel
// in the DATA of an HTTP request/response pair whose stream was taken over
// (for HTTP/3, the payload of DATA frames on the CONNECT stream). An HTTP
// Datagram is Quarter Stream ID (varint) || payload in a QUIC DATAGRAM.
//
// The package also carries the QUIC variable-length integer codec those
// formats are built from.
package capsule

import (
	"bufio"
	"errors"
	"fmt"
	"io"
)

// Type is a capsule type.
type Type uint64

// Capsule types defined by RFC 9297.
const (
	// TypeDatagram carries an HTTP Datagram payload over the stream.
	TypeDatagram Type = 0x00
)

// IsGrease reports whether t is a reserved grease type (0x29*N + 0x17),
// which receivers must ignore.
func IsGrease(t Type) bool { return t >= 0x17 && (t-0x17)%0x29 == 0 }

// GreaseType returns the n-th reserved grease type. n is reduced so that
// the result stays a valid varint.
func GreaseType(n uint64) Type {
	n %= (MaxVarint - 0x17) / 0x29
	return Type(0x29*n + 0x17)
}

// Capsule is a whole capsule held in memory.
type Capsule struct {
	Type  Type
	Value []byte
}

// Errors reported by the parsers.
var (
	// ErrTooLarge reports a capsule whose length exceeds the reader's limit.
	ErrTooLarge = errors.New("capsule: capsule exceeds maximum length")
	// ErrTruncated reports input that ends inside a capsule.
	ErrTruncated = errors.New("capsule: truncated capsule")
)

// Append appends the encoding of a capsule with type t and value v to b.
func Append(b []byte, t Type, v []byte) []byte {
	b = AppendVarint(b, uint64(t))
	b = AppendVarint(b, uint64(len(v)))
	return append(b, v...)
}

// Write writes one capsule to w.
func Write(w io.Writer, t Type, v []byte) error {
	var hdr [16]byte
	h := AppendVarint(hdr[:0], uint64(t))
	h = AppendVarint(h, uint64(len(v)))
	// One Write call, so that a framing writer (such as an HTTP/3 body)
	// emits the capsule in one frame.
	buf := make([]byte, 0, len(h)+len(v))
	buf = append(append(buf, h...), v...)
	if _, err := w.Write(buf); err != nil {
		return fmt.Errorf("capsule: write type %#x: %w", uint64(t), err)
	}
	return nil
}

// Parse decodes the capsule at the start of b. It returns the capsule (its
// Value aliases b) and the number of bytes consumed. It returns
// ErrTruncated when b holds only part of a capsule and ErrTooLarge when the
// declared length exceeds maxLen.
func Parse(b []byte, maxLen uint64) (Capsule, int, error) {
	t, n1, err := ParseVarint(b)
	if err != nil {
		return Capsule{}, 0, ErrTruncated
	}
	l, n2, err := ParseVarint(b[n1:])
	if err != nil {
		return Capsule{}, 0, ErrTruncated
	}
	if l > maxLen {
		return Capsule{}, 0, fmt.Errorf("%w: type %#x length %d > %d", ErrTooLarge, t, l, maxLen)
	}
	hdr := n1 + n2
	if uint64(len(b)-hdr) < l {
		return Capsule{}, 0, ErrTruncated
	}
	end := hdr + int(l)
	return Capsule{Type: Type(t), Value: b[hdr:end:end]}, end, nil
}

// Reader parses a stream of capsules.
type Reader struct {
	r      *bufio.Reader
	maxLen uint64
	value  io.LimitedReader
}

// NewReader returns a Reader over r that rejects capsules longer than
// maxLen bytes.
func NewReader(r io.Reader, maxLen uint64) *Reader {
	br, ok := r.(*bufio.Reader)
	if !ok {
		br = bufio.NewReader(r)
	}
	return &Reader{r: br, maxLen: maxLen}
}

// Next returns the next capsule's type and a reader for its value, which
// must be consumed before the next call (whatever is left is skipped). It
// returns io.EOF at a clean end between capsules, ErrTruncated when the
// stream ends inside one, and ErrTooLarge for an over-long capsule.
func (r *Reader) Next() (Type, io.Reader, error) {
	if r.value.N > 0 {
		if _, err := io.Copy(io.Discard, &r.value); err != nil {
			return 0, nil, fmt.Errorf("capsule: skip value: %w", err)
		}
		if r.value.N > 0 {
			return 0, nil, ErrTruncated
		}
	}
	t, err := ReadVarint(r.r)
	if err != nil {
		if err == io.EOF {
			return 0, nil, io.EOF
		}
		if err == io.ErrUnexpectedEOF {
			return 0, nil, ErrTruncated
		}
		return 0, nil, fmt.Errorf("capsule: read type: %w", err)
	}
	l, err := ReadVarint(r.r)
	if err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return 0, nil, ErrTruncated
		}
		return 0, nil, fmt.Errorf("capsule: read length: %w", err)
	}
	if l > r.maxLen {
		return 0, nil, fmt.Errorf("%w: type %#x length %d > %d", ErrTooLarge, t, l, r.maxLen)
	}
	r.value = io.LimitedReader{R: r.r, N: int64(l)}
	return Type(t), &truncReader{&r.value}, nil
}

// ReadCapsule reads the next capsule whole.
func (r *Reader) ReadCapsule() (Capsule, error) {
	t, vr, err := r.Next()
	if err != nil {
		return Capsule{}, err
	}
	v := make([]byte, r.value.N)
	if _, err := io.ReadFull(vr, v); err != nil {
		return Capsule{}, err
	}
	return Capsule{Type: t, Value: v}, nil
}

// truncReader turns an early end of the underlying stream inside a value
// into ErrTruncated.
type truncReader struct{ l *io.LimitedReader }

func (t *truncReader) Read(p []byte) (int, error) {
	if t.l.N == 0 {
		return 0, io.EOF
	}
	n, err := t.l.Read(p)
	if err == io.EOF && t.l.N > 0 {
		return n, ErrTruncated
	}
	return n, err
}

// AppendDatagram appends an HTTP Datagram for the request stream streamID
// (a client-initiated bidirectional stream, so divisible by 4): Quarter
// Stream ID || payload.
func AppendDatagram(b []byte, streamID uint64, payload []byte) []byte {
	b = AppendVarint(b, streamID/4)
	return append(b, payload...)
}

// ParseDatagram splits an HTTP Datagram into the request stream ID it
// belongs to and its payload (which aliases b).
func ParseDatagram(b []byte) (streamID uint64, payload []byte, err error) {
	q, n, err := ParseVarint(b)
	if err != nil {
		return 0, nil, fmt.Errorf("capsule: datagram without quarter stream ID: %w", err)
	}
	if q > MaxVarint/4 {
		return 0, nil, fmt.Errorf("capsule: quarter stream ID %d out of range", q)
	}
	return q * 4, b[n:], nil
}
