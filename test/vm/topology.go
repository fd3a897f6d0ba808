package vm

import (
	"fmt"
	"strings"
	"time"
)

// Topology is a set of hosts (network namespaces in the guest) joined by
// veth links. Link i (counting from 0) uses 10.<i+1>.0.0/24 and
// fd00:<i+1>::/64: its A end is .1 / ::1 and its B end .2 / ::2.
type Topology struct {
	Hosts []string
	Links []Link
}

// Link joins two hosts with a veth pair; Netem shapes both directions.
type Link struct {
	A, B  string
	Netem *Netem
}

// Netem is the impairment applied to each end of a link (tc-netem).
type Netem struct {
	Delay      time.Duration
	Jitter     time.Duration
	LossPct    float64
	ReorderPct float64 // needs Delay: reordered packets skip the delay
	RateKbit   int
}

func (n *Netem) args() string {
	var a []string
	if n.Delay > 0 {
		a = append(a, fmt.Sprintf("delay %dus", n.Delay.Microseconds()))
		if n.Jitter > 0 {
			a = append(a, fmt.Sprintf("%dus", n.Jitter.Microseconds()))
		}
	}
	if n.LossPct > 0 {
		a = append(a, fmt.Sprintf("loss %g%%", n.LossPct))
	}
	if n.ReorderPct > 0 {
		a = append(a, fmt.Sprintf("reorder %g%%", n.ReorderPct))
	}
	if n.RateKbit > 0 {
		a = append(a, fmt.Sprintf("rate %dkbit", n.RateKbit))
	}
	return strings.Join(a, " ")
}

// Addr4 is host's IPv4 address on link i.
func (t *Topology) Addr4(i int, host string) string {
	return fmt.Sprintf("10.%d.0.%d", i+1, t.end(i, host))
}

// Addr6 is host's IPv6 address on link i.
func (t *Topology) Addr6(i int, host string) string {
	return fmt.Sprintf("fd00:%d::%d", i+1, t.end(i, host))
}

func (t *Topology) end(i int, host string) int {
	if t.Links[i].B == host {
		return 2
	}
	return 1
}

// script is the shell that builds the topology inside the guest.
func (t *Topology) script() string {
	var b strings.Builder
	b.WriteString("modprobe -a veth sch_netem\n")
	for _, h := range t.Hosts {
		fmt.Fprintf(&b, "ip netns add %s\nip -n %s link set lo up\n", h, h)
	}
	for i, l := range t.Links {
		a, z := fmt.Sprintf("v%d%s", i, l.A), fmt.Sprintf("v%d%s", i, l.B)
		fmt.Fprintf(&b, "ip link add %s netns %s type veth peer name %s netns %s\n", a, l.A, z, l.B)
		for _, end := range []struct{ host, dev string }{{l.A, a}, {l.B, z}} {
			fmt.Fprintf(&b, "ip -n %s addr add %s/24 dev %s\n", end.host, t.Addr4(i, end.host), end.dev)
			fmt.Fprintf(&b, "ip -n %s addr add %s/64 dev %s nodad\n", end.host, t.Addr6(i, end.host), end.dev)
			fmt.Fprintf(&b, "ip -n %s link set %s up\n", end.host, end.dev)
			if l.Netem != nil {
				fmt.Fprintf(&b, "tc -n %s qdisc add dev %s root netem %s\n", end.host, end.dev, l.Netem.args())
			}
		}
	}
	return b.String()
}
