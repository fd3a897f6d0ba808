package qpack

import (
	"sync"
)

// DefaultMaxTableCapacity is the dynamic table capacity an Encoder uses
// when the peer allows at least that much (4 KiB, as in HPACK).
const DefaultMaxTableCapacity = 4096

// section is one field section sent on a stream and not yet acknowledged.
type section struct {
	ric  uint64
	refs []uint64 // absolute indexes referenced (with repeats)
}

// Encoder encodes field sections. It is safe for concurrent use. Until
// SetPeerSettings is called with a non-zero capacity it encodes with the
// static table only.
type Encoder struct {
	// Huffman selects Huffman coding of string literals whenever it is
	// shorter (the default). Set it to false for raw literals.
	Huffman bool

	mu          sync.Mutex
	ownMax      uint64 // our cap on the table capacity we choose
	peerMax     uint64 // peer's SETTINGS_QPACK_MAX_TABLE_CAPACITY
	maxBlocked  uint64 // peer's SETTINGS_QPACK_BLOCKED_STREAMS
	maxEntries  uint64
	table       dynTable
	refs        []int // refs[abs-table.dropped]: unacknowledged references
	exact       map[HeaderField]uint64
	names       map[string]uint64
	knownRecv   uint64 // Known Received Count
	outstanding map[uint64][]*section
	out         []byte // encoder stream instructions to send
	decPending  []byte
	decFailed   bool
}

// NewEncoder returns a static-only encoder that uses Huffman coding.
func NewEncoder() *Encoder {
	return &Encoder{
		Huffman:     true,
		ownMax:      DefaultMaxTableCapacity,
		exact:       map[HeaderField]uint64{},
		names:       map[string]uint64{},
		outstanding: map[uint64][]*section{},
	}
}

// SetMaxTableCapacity bounds the dynamic table capacity this encoder will
// choose (memory it commits at the peer); call it before SetPeerSettings.
func (e *Encoder) SetMaxTableCapacity(n uint64) {
	e.mu.Lock()
	e.ownMax = n
	e.mu.Unlock()
}

// SetPeerSettings applies the peer's SETTINGS_QPACK_MAX_TABLE_CAPACITY and
// SETTINGS_QPACK_BLOCKED_STREAMS. When the capacity is non-zero the
// encoder starts using the dynamic table, choosing the smaller of that
// capacity and its own maximum, and queues a Set Dynamic Table Capacity
// instruction. It may be called once.
func (e *Encoder) SetPeerSettings(maxTableCapacity, blockedStreams uint64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.peerMax = maxTableCapacity
	e.maxBlocked = blockedStreams
	e.maxEntries = maxTableCapacity / entryOverhead
	if c := min(maxTableCapacity, e.ownMax); c > 0 {
		e.setCapacityLocked(c)
	}
}

// SetCapacity changes the dynamic table capacity (at most the peer's
// maximum), evicting entries as needed. It fails with ErrTableFull if that
// would evict an entry still in use.
func (e *Encoder) SetCapacity(c uint64) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if c > e.peerMax {
		return wrap(ErrTableFull, "capacity %d exceeds the peer's maximum %d", c, e.peerMax)
	}
	if !e.makeRoom(0, c) {
		return wrap(ErrTableFull, "capacity %d would evict referenced entries", c)
	}
	e.setCapacityLocked(c)
	return nil
}

func (e *Encoder) setCapacityLocked(c uint64) {
	e.table.capacity = c
	e.out = appendInt(e.out, 0x20, 5, c)
}

// Capacity returns the dynamic table capacity in use (0: static only).
func (e *Encoder) Capacity() uint64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.table.capacity
}

// EncoderStreamData returns the instructions to send on this endpoint's
// encoder stream, and forgets them. Send them before (or together with)
// the field sections encoded since the previous call.
func (e *Encoder) EncoderStreamData() []byte {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := e.out
	e.out = nil
	return out
}

// evictable reports whether the entry at abs may be evicted: it has been
// acknowledged and no unacknowledged section references it.
func (e *Encoder) evictable(abs uint64) bool {
	return abs < e.knownRecv && e.refs[abs-e.table.dropped] == 0
}

// makeRoom evicts the oldest entries until size more bytes fit within
// capacity c. It changes nothing and returns false if that is impossible.
func (e *Encoder) makeRoom(size, c uint64) bool {
	if size > c {
		return false
	}
	need := e.table.size + size
	n := 0
	for need > c {
		abs := e.table.dropped + uint64(n)
		if abs >= e.table.insertCount() || !e.evictable(abs) {
			return false
		}
		need -= e.table.entries[n].Size()
		n++
	}
	for ; n > 0; n-- {
		abs := e.table.dropped
		old := e.table.entries[0]
		if e.exact[HeaderField{Name: old.Name, Value: old.Value}] == abs {
			delete(e.exact, HeaderField{Name: old.Name, Value: old.Value})
		}
		if e.names[old.Name] == abs {
			delete(e.names, old.Name)
		}
		e.table.evictOldest()
		e.refs = e.refs[1:]
	}
	return true
}

// insertLocked adds an entry (if it fits) and queues the instruction,
// preferring a name reference (static first) over a literal name.
func (e *Encoder) insertLocked(name, value string) (uint64, bool) {
	if e.table.capacity == 0 || !e.makeRoom(entrySize(name, value), e.table.capacity) {
		return 0, false
	}
	if idx, ok := staticName[name]; ok {
		e.out = appendInt(e.out, 0xc0, 6, idx)
		e.out = appendString(e.out, 0, 7, value, e.Huffman)
	} else if abs, ok := e.names[name]; ok {
		e.out = appendInt(e.out, 0x80, 6, e.table.insertCount()-1-abs)
		e.out = appendString(e.out, 0, 7, value, e.Huffman)
	} else {
		e.out = appendString(e.out, 0x40, 5, name, e.Huffman)
		e.out = appendString(e.out, 0, 7, value, e.Huffman)
	}
	return e.addLocked(name, value), true
}

func (e *Encoder) addLocked(name, value string) uint64 {
	abs := e.table.insertCount()
	e.table.add(HeaderField{Name: name, Value: value})
	e.refs = append(e.refs, 0)
	e.exact[HeaderField{Name: name, Value: value}] = abs
	e.names[name] = abs
	return abs
}

// Insert inserts an entry speculatively, without referencing it, so that
// later field sections can.
func (e *Encoder) Insert(name, value string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.insertLocked(name, value); !ok {
		return wrap(ErrTableFull, "cannot insert %q (%d bytes)", name, entrySize(name, value))
	}
	return nil
}

// Duplicate re-inserts the entry with absolute index abs, refreshing an
// entry that is close to eviction.
func (e *Encoder) Duplicate(abs uint64) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	f, ok := e.table.get(abs)
	if !ok {
		return wrap(ErrTableFull, "no entry %d to duplicate", abs)
	}
	// The entry being duplicated must survive making room for its copy.
	e.refs[abs-e.table.dropped]++
	ok = e.makeRoom(f.Size(), e.table.capacity)
	e.refs[abs-e.table.dropped]--
	if !ok {
		return wrap(ErrTableFull, "cannot duplicate entry %d", abs)
	}
	e.out = appendInt(e.out, 0x00, 5, e.table.insertCount()-1-abs)
	e.addLocked(f.Name, f.Value)
	return nil
}

// blockingStreams counts streams with a section that may block the decoder.
func (e *Encoder) blockingStreams() (n uint64, isBlocking func(uint64) bool) {
	for _, secs := range e.outstanding {
		for _, s := range secs {
			if s.ric > e.knownRecv {
				n++
				break
			}
		}
	}
	return n, func(id uint64) bool {
		for _, s := range e.outstanding[id] {
			if s.ric > e.knownRecv {
				return true
			}
		}
		return false
	}
}

// noIndex lists fields whose values rarely repeat or are sensitive: they
// are never inserted (they may still use a name reference).
var noIndex = map[string]bool{
	"content-length": true, "date": true, "etag": true, "last-modified": true,
	"if-modified-since": true, "if-none-match": true, "age": true,
	"authorization": true, "proxy-authorization": true, "set-cookie": true,
	"content-range": true, "x-request-id": true,
}

// EncodeFieldSection encodes fields for streamID. Any encoder instructions
// it needs are queued for EncoderStreamData. References to entries the
// decoder may not have yet are only made while the peer's blocked-streams
// budget allows.
func (e *Encoder) EncodeFieldSection(streamID uint64, fields []HeaderField) ([]byte, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	base := e.table.insertCount()
	sec := &section{}
	nBlocking, isBlocking := e.blockingStreams()
	mayBlock := e.maxBlocked > 0 && (isBlocking(streamID) || nBlocking < e.maxBlocked)
	usable := func(abs uint64) bool { return abs < e.knownRecv || mayBlock }
	ref := func(abs uint64) {
		e.refs[abs-e.table.dropped]++
		sec.refs = append(sec.refs, abs)
		if abs+1 > sec.ric {
			sec.ric = abs + 1
		}
	}

	lines := make([]byte, 0, 64*len(fields))
	for _, f := range fields {
		key := HeaderField{Name: f.Name, Value: f.Value}
		if !f.NeverIndex {
			if idx, ok := staticExact[key]; ok {
				lines = appendInt(lines, 0xc0, 6, idx)
				continue
			}
			if abs, ok := e.exact[key]; ok {
				if usable(abs) {
					ref(abs)
					lines = appendDynIndexed(lines, abs, base)
					continue
				}
			} else if !noIndex[f.Name] && e.table.capacity > 0 && f.Size() <= e.table.capacity*3/4 {
				if abs, ok := e.insertLocked(f.Name, f.Value); ok && mayBlock {
					ref(abs)
					lines = appendDynIndexed(lines, abs, base)
					continue
				}
			}
		}
		var n byte
		if f.NeverIndex {
			n = 0x20
		}
		if idx, ok := staticName[f.Name]; ok {
			lines = appendInt(lines, 0x50|n, 4, idx)
		} else if abs, ok := e.names[f.Name]; ok && usable(abs) {
			ref(abs)
			if abs < base {
				lines = appendInt(lines, 0x40|n, 4, base-1-abs)
			} else {
				lines = appendInt(lines, 0x00|n>>2, 3, abs-base)
			}
		} else {
			lines = appendString(lines, 0x20|n>>1, 3, f.Name, e.Huffman)
		}
		lines = appendString(lines, 0, 7, f.Value, e.Huffman)
	}

	out := make([]byte, 0, len(lines)+4)
	out = appendInt(out, 0, 8, encodeRequiredInsertCount(sec.ric, e.maxEntries))
	switch {
	case sec.ric == 0:
		out = append(out, 0)
	case base >= sec.ric:
		out = appendInt(out, 0x00, 7, base-sec.ric)
	default:
		out = appendInt(out, 0x80, 7, sec.ric-base-1)
	}
	if sec.ric > 0 {
		e.outstanding[streamID] = append(e.outstanding[streamID], sec)
	}
	return append(out, lines...), nil
}

func appendDynIndexed(b []byte, abs, base uint64) []byte {
	if abs < base {
		return appendInt(b, 0x80, 6, base-1-abs)
	}
	return appendInt(b, 0x10, 4, abs-base)
}

// WriteDecoderStream processes bytes received on the peer's decoder
// stream. An error wraps ErrDecoderStream and is fatal for the connection.
func (e *Encoder) WriteDecoderStream(p []byte) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.decFailed {
		return wrap(ErrDecoderStream, "decoder stream already failed")
	}
	e.decPending = append(e.decPending, p...)
	off := 0
	var err error
	for off < len(e.decPending) {
		var n int
		n, err = e.decoderInstruction(e.decPending[off:])
		if err != nil {
			break
		}
		off += n
	}
	e.decPending = append(e.decPending[:0], e.decPending[off:]...)
	if err != nil && err != errNeedMore {
		e.decFailed = true
		return err
	}
	return nil
}

func (e *Encoder) decoderInstruction(b []byte) (int, error) {
	c := b[0]
	switch {
	case c&0x80 != 0: // Section Acknowledgment: 1 stream(7+)
		id, n, err := parseInt(b, 7)
		if err != nil {
			return 0, decErr(err)
		}
		secs := e.outstanding[id]
		if len(secs) == 0 {
			return 0, wrap(ErrDecoderStream, "acknowledgment for stream %d without outstanding sections", id)
		}
		s := secs[0]
		if len(secs) == 1 {
			delete(e.outstanding, id)
		} else {
			e.outstanding[id] = secs[1:]
		}
		e.release(s)
		if s.ric > e.knownRecv {
			e.knownRecv = s.ric
		}
		return n, nil
	case c&0x40 != 0: // Stream Cancellation: 01 stream(6+)
		id, n, err := parseInt(b, 6)
		if err != nil {
			return 0, decErr(err)
		}
		for _, s := range e.outstanding[id] {
			e.release(s)
		}
		delete(e.outstanding, id)
		return n, nil
	default: // Insert Count Increment: 00 increment(6+)
		inc, n, err := parseInt(b, 6)
		if err != nil {
			return 0, decErr(err)
		}
		if inc == 0 || e.knownRecv+inc > e.table.insertCount() {
			return 0, wrap(ErrDecoderStream, "invalid insert count increment %d", inc)
		}
		e.knownRecv += inc
		return n, nil
	}
}

func (e *Encoder) release(s *section) {
	for _, abs := range s.refs {
		// Referenced entries cannot have been evicted while referenced.
		e.refs[abs-e.table.dropped]--
	}
}

func decErr(err error) error {
	if err == errNeedMore {
		return err
	}
	return wrap(ErrDecoderStream, "%v", err)
}
