package bridge

import (
	"flag"
	"fmt"
	"math/rand"
	"os"
	"strconv"
	"testing"

	"github.com/tquic/tquic/internal/quicgoadapter"
)

// -conn.seeds N (or TQUIC_SIM_SEEDS=N) runs about N seeds in all, split
// over the scenarios like the default 500; -conn.seed S replays one seed
// (the failure message prints the command).
var (
	connSimSeeds = flag.Int("conn.seeds", 0, "simulated connection seeds in all (default 500)")
	connSimSeed  = flag.Int64("conn.seed", -1, "replay one connection simulation seed")
)

func connSimSeedCount() int {
	if *connSimSeeds > 0 {
		return *connSimSeeds
	}
	if v, err := strconv.Atoi(os.Getenv("TQUIC_SIM_SEEDS")); err == nil && v > 0 {
		return v
	}
	return 0
}

type connSimScenario struct {
	name  string
	seeds int // default number of seeds
	opts  func(rng *rand.Rand) connSimOptions
}

func connSimScenarios() []connSimScenario {
	base := func(rng *rand.Rand) connSimOptions {
		return connSimOptions{
			DelayNs:       uint64(1+rng.Intn(40)) * 1e6,
			JitterNs:      uint64(rng.Intn(3)) * 1e6,
			Streams:       1 + rng.Intn(4),
			MaxStreamSize: 64 << 10,
			LimitNs:       600e9,
			MemLimit:      64 << 20,
		}
	}
	return []connSimScenario{
		{"clean", 60, base},
		{"lossy", 160, func(rng *rand.Rand) connSimOptions {
			o := base(rng)
			o.Loss = rng.Float64() * 0.20
			o.Reorder = rng.Float64() * 0.2
			o.Dup = rng.Float64() * 0.05
			o.Corrupt = rng.Float64() * 0.02
			return o
		}},
		{"bandwidth", 80, func(rng *rand.Rand) connSimOptions {
			o := base(rng)
			o.Bandwidth = uint64(200+rng.Intn(5000)) << 10
			o.Loss = rng.Float64() * 0.05
			o.MaxStreamSize = 256 << 10
			return o
		}},
		{"blackhole", 60, func(rng *rand.Rand) connSimOptions {
			o := base(rng)
			o.BlackholeAt = uint64(rng.Intn(400)) * 1e6
			o.BlackholeNs = uint64(100+rng.Intn(3000)) * 1e6
			o.Loss = rng.Float64() * 0.05
			return o
		}},
		{"keyupdate", 60, func(rng *rand.Rand) connSimOptions {
			o := base(rng)
			o.KeyUpdateInterval = uint64(8 + rng.Intn(64))
			o.Loss = rng.Float64() * 0.10
			o.Reorder = rng.Float64() * 0.1
			o.MaxStreamSize = 128 << 10
			return o
		}},
		{"v2-negotiation", 40, func(rng *rand.Rand) connSimOptions {
			o := base(rng)
			o.Versions = []uint32{Version1, Version2}
			o.ServerVersions = []uint32{Version2, Version1}
			o.Loss = rng.Float64() * 0.10
			return o
		}},
		{"datagrams", 40, func(rng *rand.Rand) connSimOptions {
			o := base(rng)
			o.Datagrams = 1 + rng.Intn(50)
			o.Loss = rng.Float64() * 0.10
			return o
		}},
		{"preferred-address", 60, func(rng *rand.Rand) connSimOptions {
			o := base(rng)
			o.Preferred = true
			o.PrefUnreachable = rng.Intn(4) == 0
			if rng.Intn(2) == 0 {
				o.Loss = rng.Float64() * 0.10
				o.Reorder = rng.Float64() * 0.1
			}
			o.MaxStreamSize = 256 << 10
			return o
		}},
	}
}

// checkPreferred holds a preferred-address seed to what the network
// allowed: a client that reached the preferred address ended up there and
// the transfer went on through it; an unreachable one left the connection
// where it was.
func checkPreferred(o connSimOptions, r connSimResult) error {
	moved := r.ClientStats.PreferredAddress
	switch {
	case o.PrefUnreachable && moved:
		return fmt.Errorf("moved to an unreachable preferred address")
	case o.PrefUnreachable && r.ToPref != 0:
		return fmt.Errorf("%d datagrams reached an unreachable address", r.ToPref)
	case !o.PrefUnreachable && o.Loss == 0 && r.FromPref > 0 && !moved:
		// (A transfer may end before the address's answer arrives.)
		return fmt.Errorf("did not move to the preferred address on a clean network (%d datagrams to it, %d from it)",
			r.ToPref, r.FromPref)
	case moved && r.ServerStats.PeerMigrations != 1:
		return fmt.Errorf("server saw %d migrations, want 1", r.ServerStats.PeerMigrations)
	case moved && r.ToPref < 4:
		return fmt.Errorf("moved, but only %d datagrams reached the preferred address", r.ToPref)
	}
	return nil
}

// TestConnSimulation runs two engines over a simulated network with
// loss, reordering, duplication, corruption, bandwidth limits, black holes
// and key updates. Invariants per seed: every stream echoes byte-exact
// (sha256), the run ends (no deadlock within the virtual time budget),
// engine memory stays bounded, the server never exceeds the
// amplification limit, and no host buffer leaks.
func TestConnSimulation(t *testing.T) {
	stls, ctls, err := quicgoadapter.SelfSignedTLS("sim")
	if err != nil {
		t.Fatal(err)
	}
	before := liveBufs()
	total, prefMoved, prefSeeds := 0, 0, 0
	for si, sc := range connSimScenarios() {
		n := sc.seeds
		if c := connSimSeedCount(); c > 0 {
			n = (sc.seeds*c + 499) / 500
		}
		for i := 0; i < n; i++ {
			seed := int64(si)<<32 | int64(i)
			if *connSimSeed >= 0 && seed != *connSimSeed {
				continue
			}
			o := sc.opts(rand.New(rand.NewSource(seed)))
			r := connSimRun(seed, o, stls, ctls)
			total++
			if r.Err != nil {
				all := 500
				if c := connSimSeedCount(); c > 0 {
					all = c
				}
				t.Fatalf("%s seed %d (replay: go test ./bridge -run TestConnSimulation -conn.seeds %d -conn.seed %d, TQUIC_SIM_TRACE=1 traces datagrams): %v\n options %+v\n client %+v\n server %+v",
					sc.name, seed, all, seed, r.Err, o, r.ClientStats, r.ServerStats)
			}
			if sc.name == "preferred-address" {
				prefSeeds++
				if r.ClientStats.PreferredAddress {
					prefMoved++
				}
				if err := checkPreferred(o, r); err != nil {
					t.Fatalf("%s seed %d: %v\n options %+v\n client %+v\n server %+v", sc.name, seed, err, o,
						r.ClientStats, r.ServerStats)
				}
			}
			if sc.name == "v2-negotiation" && r.Version != Version2 {
				t.Fatalf("%s seed %d: negotiated %#x, want v2", sc.name, seed, r.Version)
			}
			if sc.name == "keyupdate" && r.ClientStats.KeyUpdates == 0 && r.ClientStats.PacketsSent > 4*o.KeyUpdateInterval {
				t.Fatalf("%s seed %d: no key update in %d packets", sc.name, seed, r.ClientStats.PacketsSent)
			}
		}
	}
	if after := liveBufs(); after > before {
		t.Fatalf("host buffers leaked: %d before, %d after", before, after)
	}
	if *connSimSeed < 0 && total < 500 && connSimSeedCount() == 0 {
		t.Fatalf("only %d seeds ran", total)
	}
	t.Log(fmt.Sprintf("%d seeds; %d of %d preferred-address seeds moved", total, prefMoved, prefSeeds))
}

// newTestSimPair is a client and server with the default configuration,
// connected over the simulated network (closed when the test ends).
func newTestSimPair(t *testing.T) *connSimPair {
	t.Helper()
	stls, ctls, err := quicgoadapter.SelfSignedTLS("sim")
	if err != nil {
		t.Fatal(err)
	}
	p, err := newConnSimPair(stls, ctls, &Config{}, &Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.close)
	return p
}

// openStream opens a bidirectional stream on the client.
func (p *connSimPair) openStream(t *testing.T) int64 {
	t.Helper()
	p.cli.mu.Lock()
	defer p.cli.mu.Unlock()
	var id uint64
	if p.cli.c == nil || !streamOpen(p.cli, &id) {
		t.Fatal("stream open failed")
	}
	return int64(id)
}

// serverRead reads what stream id has readable at the server (through
// buf) and sends what that made due; it returns the bytes read.
func (p *connSimPair) serverRead(id int64, buf []byte) int {
	p.srv.mu.Lock()
	defer p.srv.mu.Unlock()
	got := 0
	for {
		n, _, err := p.srv.simRead(id, buf)
		if err != nil || n == 0 {
			break
		}
		got += n
	}
	p.srv.flush()
	return got
}
