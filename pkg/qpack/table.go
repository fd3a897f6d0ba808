package qpack

// entryOverhead is the per-entry size overhead (RFC 9204 section 3.2.1).
const entryOverhead = 32

func entrySize(name, value string) uint64 {
	return uint64(len(name)) + uint64(len(value)) + entryOverhead
}

// dynTable is the dynamic table shared in shape by encoder and decoder.
// Entries carry absolute indexes: the first entry ever inserted is 0.
type dynTable struct {
	entries  []HeaderField // entries[i] has absolute index dropped+i
	dropped  uint64        // number of evicted entries = oldest absolute index
	size     uint64
	capacity uint64
}

func (t *dynTable) insertCount() uint64 { return t.dropped + uint64(len(t.entries)) }

func (t *dynTable) get(abs uint64) (HeaderField, bool) {
	if abs < t.dropped || abs >= t.insertCount() {
		return HeaderField{}, false
	}
	return t.entries[abs-t.dropped], true
}

// evictOldest removes the oldest entry.
func (t *dynTable) evictOldest() {
	e := t.entries[0]
	t.size -= entrySize(e.Name, e.Value)
	t.entries[0] = HeaderField{}
	t.entries = t.entries[1:]
	t.dropped++
}

// add appends an entry; the caller has made room.
func (t *dynTable) add(f HeaderField) {
	t.entries = append(t.entries, HeaderField{Name: f.Name, Value: f.Value})
	t.size += entrySize(f.Name, f.Value)
}
