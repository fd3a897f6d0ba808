package qpack

import (
	"context"
	"sync"
)

// DefaultMaxFieldSectionSize bounds decoded field sections when the
// Decoder is not configured otherwise (64 KiB, a common HTTP limit).
const DefaultMaxFieldSectionSize = 64 << 10

// Decoder decodes field sections and processes the peer encoder's
// instructions. It is safe for concurrent use: field sections on different
// streams can be decoded in parallel, and a section that references
// entries not yet received blocks until they arrive.
type Decoder struct {
	maxCapacity     uint64 // our SETTINGS_QPACK_MAX_TABLE_CAPACITY
	maxBlocked      uint64 // our SETTINGS_QPACK_BLOCKED_STREAMS
	maxEntries      uint64
	maxSectionSize  uint64
	mu              sync.Mutex
	table           dynTable
	pending         []byte // encoder stream bytes not yet forming a whole instruction
	inserted        chan struct{}
	blocked         map[uint64]chan struct{} // stream -> closed on CancelStream
	acked           uint64                   // insert count the encoder knows we have
	out             []byte                   // decoder stream instructions to send
	encoderStreamOK bool
	blockedHook     func() // tests: called when a stream blocks
}

// NewDecoder returns a decoder that allows the peer a dynamic table of up
// to maxTableCapacity bytes and up to maxBlockedStreams blocked streams:
// the values this endpoint sends as SETTINGS_QPACK_MAX_TABLE_CAPACITY and
// SETTINGS_QPACK_BLOCKED_STREAMS. NewDecoder(0, 0) is a static-only
// decoder.
func NewDecoder(maxTableCapacity, maxBlockedStreams uint64) *Decoder {
	return &Decoder{
		maxCapacity:     maxTableCapacity,
		maxBlocked:      maxBlockedStreams,
		maxEntries:      maxTableCapacity / entryOverhead,
		maxSectionSize:  DefaultMaxFieldSectionSize,
		inserted:        make(chan struct{}),
		blocked:         map[uint64]chan struct{}{},
		encoderStreamOK: true,
	}
}

// SetMaxFieldSectionSize bounds the total size (sum of HeaderField.Size)
// of a decoded field section: the SETTINGS_MAX_FIELD_SECTION_SIZE this
// endpoint advertises.
func (d *Decoder) SetMaxFieldSectionSize(n uint64) {
	d.mu.Lock()
	d.maxSectionSize = n
	d.mu.Unlock()
}

// InsertCount returns the number of entries inserted so far.
func (d *Decoder) InsertCount() uint64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.table.insertCount()
}

// TableSize returns the dynamic table's current size in bytes.
func (d *Decoder) TableSize() uint64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.table.size
}

// BlockedStreams returns how many streams are waiting for table entries.
func (d *Decoder) BlockedStreams() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.blocked)
}

// WriteEncoderStream processes bytes received on the peer's encoder stream.
// Instructions may be split arbitrarily across calls. An error wraps
// ErrEncoderStream and is fatal for the connection.
func (d *Decoder) WriteEncoderStream(p []byte) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.encoderStreamOK {
		return wrap(ErrEncoderStream, "encoder stream already failed")
	}
	d.pending = append(d.pending, p...)
	before := d.table.insertCount()
	n, err := d.parseEncoderInstructions(d.pending)
	d.pending = append(d.pending[:0], d.pending[n:]...)
	if d.table.insertCount() != before {
		close(d.inserted)
		d.inserted = make(chan struct{})
	}
	if err != nil {
		d.encoderStreamOK = false
		return err
	}
	return nil
}

// parseEncoderInstructions applies every whole instruction in b and
// returns the number of bytes consumed.
func (d *Decoder) parseEncoderInstructions(b []byte) (int, error) {
	off := 0
	for off < len(b) {
		n, err := d.parseEncoderInstruction(b[off:])
		if err == errNeedMore {
			return off, nil
		}
		if err != nil {
			return off, err
		}
		off += n
	}
	return off, nil
}

func (d *Decoder) stringLimit() uint64 {
	// No entry can exceed the capacity, so neither can its strings.
	return d.maxCapacity
}

func (d *Decoder) parseEncoderInstruction(b []byte) (int, error) {
	c := b[0]
	switch {
	case c&0x80 != 0: // Insert With Name Reference: 1 T index(6+) value
		idx, n, err := parseInt(b, 6)
		if err != nil {
			return 0, d.encErr(err, "insert with name reference")
		}
		var name string
		if c&0x40 != 0 {
			if idx >= uint64(len(staticTable)) {
				return 0, wrap(ErrEncoderStream, "static index %d out of range", idx)
			}
			name = staticTable[idx].Name
		} else {
			ic := d.table.insertCount()
			if idx >= ic {
				return 0, wrap(ErrEncoderStream, "relative index %d beyond insert count %d", idx, ic)
			}
			e, ok := d.table.get(ic - 1 - idx)
			if !ok {
				return 0, wrap(ErrEncoderStream, "name reference to evicted entry %d", ic-1-idx)
			}
			name = e.Name
		}
		value, m, err := parseString(b[n:], 7, d.stringLimit())
		if err != nil {
			return 0, d.encErr(err, "insert value")
		}
		return n + m, d.insert(name, value)
	case c&0x40 != 0: // Insert With Literal Name: 01 H len(5+) name value
		name, n, err := parseString(b, 5, d.stringLimit())
		if err != nil {
			return 0, d.encErr(err, "insert name")
		}
		value, m, err := parseString(b[n:], 7, d.stringLimit())
		if err != nil {
			return 0, d.encErr(err, "insert value")
		}
		return n + m, d.insert(name, value)
	case c&0x20 != 0: // Set Dynamic Table Capacity: 001 capacity(5+)
		capacity, n, err := parseInt(b, 5)
		if err != nil {
			return 0, d.encErr(err, "set capacity")
		}
		if capacity > d.maxCapacity {
			return 0, wrap(ErrEncoderStream, "capacity %d exceeds limit %d", capacity, d.maxCapacity)
		}
		d.table.capacity = capacity
		for d.table.size > capacity {
			d.table.evictOldest()
		}
		return n, nil
	default: // Duplicate: 000 index(5+)
		idx, n, err := parseInt(b, 5)
		if err != nil {
			return 0, d.encErr(err, "duplicate")
		}
		ic := d.table.insertCount()
		if idx >= ic {
			return 0, wrap(ErrEncoderStream, "duplicate of relative index %d beyond insert count %d", idx, ic)
		}
		e, ok := d.table.get(ic - 1 - idx)
		if !ok {
			return 0, wrap(ErrEncoderStream, "duplicate of evicted entry %d", ic-1-idx)
		}
		return n, d.insert(e.Name, e.Value)
	}
}

func (d *Decoder) encErr(err error, what string) error {
	if err == errNeedMore {
		return err
	}
	return wrap(ErrEncoderStream, "%s: %v", what, err)
}

func (d *Decoder) insert(name, value string) error {
	size := entrySize(name, value)
	if size > d.table.capacity {
		return wrap(ErrEncoderStream, "entry of %d bytes exceeds table capacity %d", size, d.table.capacity)
	}
	for d.table.size+size > d.table.capacity {
		d.table.evictOldest()
	}
	d.table.add(HeaderField{Name: name, Value: value})
	return nil
}

// DecodeFieldSection decodes one encoded field section received on
// streamID (a HEADERS or PUSH_PROMISE frame payload). When the section
// references entries not yet received, it waits for them until ctx is done
// or CancelStream(streamID) is called; exceeding the blocked-streams limit
// is an error. Errors wrap ErrDecompressionFailed (connection error),
// ErrFieldSectionTooLarge, ErrStreamCanceled or ctx's error.
func (d *Decoder) DecodeFieldSection(ctx context.Context, streamID uint64, section []byte) ([]HeaderField, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	encRIC, n1, err := parseInt(section, 8)
	if err != nil {
		return nil, d.secErr(err, "required insert count")
	}
	ric, err := decodeRequiredInsertCount(encRIC, d.maxEntries, d.table.insertCount())
	if err != nil {
		return nil, err
	}
	if len(section) <= n1 {
		return nil, wrap(ErrDecompressionFailed, "truncated field section prefix")
	}
	sign := section[n1]&0x80 != 0
	delta, n2, err := parseInt(section[n1:], 7)
	if err != nil {
		return nil, d.secErr(err, "delta base")
	}
	var base uint64
	if sign {
		if delta+1 > ric {
			return nil, wrap(ErrDecompressionFailed, "negative base")
		}
		base = ric - delta - 1
	} else {
		base = ric + delta
		if base < ric { // overflow
			return nil, wrap(ErrDecompressionFailed, "base overflow")
		}
	}
	if ric > d.table.insertCount() {
		if err := d.waitBlocked(ctx, streamID, ric); err != nil {
			return nil, err
		}
	}
	fields, err := d.decodeLines(section[n1+n2:], ric, base)
	if err != nil {
		return nil, err
	}
	if ric > 0 {
		d.out = appendInt(d.out, 0x80, 7, streamID) // Section Acknowledgment
		if ric > d.acked {
			d.acked = ric
		}
	}
	return fields, nil
}

// waitBlocked waits, with d.mu held on entry and exit, until the table has
// ric entries.
func (d *Decoder) waitBlocked(ctx context.Context, streamID, ric uint64) error {
	if _, already := d.blocked[streamID]; !already && uint64(len(d.blocked)) >= d.maxBlocked {
		return wrap(ErrDecompressionFailed, "stream %d would exceed %d blocked streams", streamID, d.maxBlocked)
	}
	cancel := make(chan struct{})
	d.blocked[streamID] = cancel
	defer delete(d.blocked, streamID)
	if d.blockedHook != nil {
		d.blockedHook()
	}
	for ric > d.table.insertCount() {
		inserted := d.inserted
		d.mu.Unlock()
		select {
		case <-inserted:
			d.mu.Lock()
		case <-cancel:
			d.mu.Lock()
			return ErrStreamCanceled
		case <-ctx.Done():
			d.mu.Lock()
			return ctx.Err()
		}
		if !d.encoderStreamOK {
			return wrap(ErrDecompressionFailed, "encoder stream failed while blocked")
		}
	}
	return nil
}

func (d *Decoder) secErr(err error, what string) error {
	if err == errNeedMore {
		return wrap(ErrDecompressionFailed, "truncated %s", what)
	}
	return wrap(ErrDecompressionFailed, "%s: %v", what, err)
}

func (d *Decoder) decodeLines(b []byte, ric, base uint64) ([]HeaderField, error) {
	var fields []HeaderField
	var total uint64
	limit := d.maxSectionSize
	dyn := func(abs uint64) (HeaderField, error) {
		if abs >= ric {
			return HeaderField{}, wrap(ErrDecompressionFailed, "reference to entry %d not below required insert count %d", abs, ric)
		}
		e, ok := d.table.get(abs)
		if !ok {
			return HeaderField{}, wrap(ErrDecompressionFailed, "reference to evicted entry %d", abs)
		}
		return e, nil
	}
	rel := func(idx uint64) (HeaderField, error) {
		if idx >= base {
			return HeaderField{}, wrap(ErrDecompressionFailed, "relative index %d not below base %d", idx, base)
		}
		return dyn(base - 1 - idx)
	}
	post := func(idx uint64) (HeaderField, error) {
		if base+idx < base {
			return HeaderField{}, wrap(ErrDecompressionFailed, "post-base index overflow")
		}
		return dyn(base + idx)
	}
	static := func(idx uint64) (HeaderField, error) {
		if idx >= uint64(len(staticTable)) {
			return HeaderField{}, wrap(ErrDecompressionFailed, "static index %d out of range", idx)
		}
		return staticTable[idx], nil
	}
	for len(b) > 0 {
		c := b[0]
		var f HeaderField
		var n int
		var err error
		switch {
		case c&0x80 != 0: // Indexed Field Line: 1 T index(6+)
			var idx uint64
			idx, n, err = parseInt(b, 6)
			if err == nil {
				if c&0x40 != 0 {
					f, err = static(idx)
				} else {
					f, err = rel(idx)
				}
			}
		case c&0x40 != 0: // Literal With Name Reference: 01 N T index(4+) value
			var idx uint64
			idx, n, err = parseInt(b, 4)
			if err == nil {
				if c&0x10 != 0 {
					f, err = static(idx)
				} else {
					f, err = rel(idx)
				}
			}
			if err == nil {
				var m int
				f.Value, m, err = parseString(b[n:], 7, limit)
				n += m
				f.NeverIndex = c&0x20 != 0
			}
		case c&0x20 != 0: // Literal With Literal Name: 001 N H len(3+) name value
			var m int
			f.Name, n, err = parseString(b, 3, limit)
			if err == nil {
				f.Value, m, err = parseString(b[n:], 7, limit)
				n += m
				f.NeverIndex = c&0x10 != 0
			}
		case c&0x10 != 0: // Indexed Field Line With Post-Base Index: 0001 index(4+)
			var idx uint64
			idx, n, err = parseInt(b, 4)
			if err == nil {
				f, err = post(idx)
			}
		default: // Literal With Post-Base Name Reference: 0000 N index(3+) value
			var idx uint64
			idx, n, err = parseInt(b, 3)
			if err == nil {
				f, err = post(idx)
			}
			if err == nil {
				var m int
				f.Value, m, err = parseString(b[n:], 7, limit)
				n += m
				f.NeverIndex = c&0x08 != 0
			}
		}
		if err != nil {
			if err == errStringTooLong {
				return nil, wrap(ErrFieldSectionTooLarge, "field line exceeds %d bytes", limit)
			}
			return nil, d.secErr(err, "field line")
		}
		total += f.Size()
		if total > limit {
			return nil, wrap(ErrFieldSectionTooLarge, "decoded fields exceed %d bytes", limit)
		}
		fields = append(fields, f)
		b = b[n:]
	}
	return fields, nil
}

// CancelStream tells the decoder that streamID was reset or abandoned
// before all its field sections were decoded: a decode blocked on it
// returns ErrStreamCanceled, and a Stream Cancellation instruction is
// queued for the peer's encoder.
func (d *Decoder) CancelStream(streamID uint64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if ch, ok := d.blocked[streamID]; ok {
		close(ch)
		delete(d.blocked, streamID)
	}
	if d.maxCapacity > 0 {
		d.out = appendInt(d.out, 0x40, 6, streamID)
	}
}

// DecoderStreamData returns the decoder instructions to send on this
// endpoint's decoder stream, and forgets them. Section Acknowledgments and
// Stream Cancellations come first, then an Insert Count Increment for any
// entries not yet acknowledged otherwise.
func (d *Decoder) DecoderStreamData() []byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	if ic := d.table.insertCount(); ic > d.acked {
		d.out = appendInt(d.out, 0x00, 6, ic-d.acked)
		d.acked = ic
	}
	out := d.out
	d.out = nil
	return out
}
