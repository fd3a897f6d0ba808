package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type showJSON struct {
	Version string `json:"version"`
	Config  struct {
		CongestionControl string   `json:"congestion_control"`
		Versions          []string `json:"versions"`
		Pacing            bool     `json:"pacing"`
		ECN               string   `json:"ecn"`
		Amplification     int      `json:"amplification_factor"`
		Retry             string   `json:"retry"`
		IdleTimeoutNs     int64    `json:"idle_timeout_ns"`
		CIDLen            int      `json:"cid_len"`
	} `json:"config"`
}

func (e env) readShow(t *testing.T, name string) showJSON {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(e.share, name))
	if err != nil {
		t.Fatal(err)
	}
	var s showJSON
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatalf("%s: %q: %v", name, b, err)
	}
	return s
}

// TestConfigPerNamespace sets every key in one network namespace, checks
// another keeps the defaults, and checks the kernel's refusals reach the
// user with its reason.
func TestConfigPerNamespace(t *testing.T) {
	e := setup(t)
	ctl, out := e.tquicctl, e.share
	script := `set -e
test/vm/load-tquic.sh ` + e.module + `
ip netns add a
ip netns add b
# Watch a's events; wait until the monitor has joined the group.
ip netns exec a ` + ctl + ` monitor -j >` + out + `/events.json 2>` + out + `/monitor.err &
mon=$!
i=0
until grep -q monitoring ` + out + `/monitor.err; do i=$((i+1)); [ $i -lt 200 ] || { echo "monitor did not start"; exit 1; }; sleep 0.05; done
ip netns exec a ` + ctl + ` set cc newreno versions v2,v1 pacing off ecn l4s amplification 2 retry under-load idle-timeout 12s cid-len 16
ip netns exec a ` + ctl + ` show -j >` + out + `/a.json
i=0
until grep -q '"kind":"config"' ` + out + `/events.json; do i=$((i+1)); [ $i -lt 200 ] || { echo "no config event"; exit 1; }; sleep 0.05; done
kill -INT $mon
wait $mon
ip netns exec b ` + ctl + ` show -j >` + out + `/b.json
ip netns exec a ` + ctl + ` show
refuse() {
	name=$1; shift
	if ip netns exec a ` + ctl + ` set "$@" 2>` + out + `/$name.err; then echo "set $* was accepted"; exit 1; fi
}
refuse cc cc reno
refuse amp amplification 11
refuse cid cid-len 21
refuse idle idle-timeout 2h
# Unprivileged users may read but not write.
setpriv --reuid 65534 --regid 65534 --clear-groups ` + ctl + ` show >/dev/null
if setpriv --reuid 65534 --regid 65534 --clear-groups ` + ctl + ` set cc cubic 2>` + out + `/perm.err; then echo "unprivileged set accepted"; exit 1; fi
# Namespaces going away free their config; the module unloads cleanly.
ip netns del a
ip netns del b
rmmod tquic
`
	e.run(t, script)

	a, b := e.readShow(t, "a.json"), e.readShow(t, "b.json")
	if c := a.Config; c.CongestionControl != "newreno" || strings.Join(c.Versions, ",") != "v2,v1" || c.Pacing ||
		c.ECN != "l4s" || c.Amplification != 2 || c.Retry != "under-load" || c.IdleTimeoutNs != 12e9 || c.CIDLen != 16 {
		t.Fatalf("namespace a config after set: %+v", c)
	}
	if c := b.Config; c.CongestionControl != "cubic" || strings.Join(c.Versions, ",") != "v1,v2" || !c.Pacing ||
		c.ECN != "ect0" || c.Amplification != 3 || c.Retry != "never" || c.CIDLen != 8 {
		t.Fatalf("namespace b config changed by a's set: %+v", c)
	}
	events, err := os.ReadFile(filepath.Join(out, "events.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ev struct {
		Kind   string `json:"kind"`
		Config struct {
			CongestionControl string `json:"congestion_control"`
		} `json:"config"`
	}
	if err := json.Unmarshal([]byte(strings.SplitN(string(events), "\n", 2)[0]), &ev); err != nil ||
		ev.Kind != "config" || ev.Config.CongestionControl != "newreno" {
		t.Fatalf("monitor printed %q (%v)", events, err)
	}
	for name, want := range map[string]string{
		"cc":   "unknown congestion control",
		"amp":  "out of range",
		"cid":  "out of range",
		"idle": "out of range",
		"perm": "operation not permitted",
	} {
		b, err := os.ReadFile(filepath.Join(out, name+".err"))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(strings.ToLower(string(b)), want) {
			t.Errorf("%s: error %q does not say %q", name, b, want)
		}
	}
}
