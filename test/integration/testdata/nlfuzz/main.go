// Command nlfuzz sends malformed requests to the tquic generic netlink
// family and checks each answer: the malformed kinds must fail with EINVAL
// and an extended-ack message; random bytes may also succeed or fail with
// ENOENT/ERANGE (a well-formed but unknown id or an out-of-range value),
// never with anything else. It prints a JSON summary and exits 1 on any
// unexpected answer.
package main

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand"
	"os"

	"github.com/mdlayher/genetlink"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/tquic/tquic/pkg/uapi"
)

type summary struct {
	Sent     int            `json:"sent"`
	ByKind   map[string]int `json:"by_kind"`
	Errnos   map[string]int `json:"errnos"`
	Resync   int            `json:"resync"`
	Failures []string       `json:"failures"`
}

func attr(typ uint16, payload []byte) []byte {
	b := make([]byte, 4, 4+len(payload)+3)
	binary.NativeEndian.PutUint16(b[0:], uint16(4+len(payload)))
	binary.NativeEndian.PutUint16(b[2:], typ)
	b = append(b, payload...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func nest(typ uint16, inner ...[]byte) []byte {
	var p []byte
	for _, a := range inner {
		p = append(p, a...)
	}
	return attr(typ|unix.NLA_F_NESTED, p)
}

func u64(v uint64) []byte { b := make([]byte, 8); binary.NativeEndian.PutUint64(b, v); return b }

func main() {
	n := flag.Int("n", 5000, "requests")
	seed := flag.Int64("seed", 1, "random seed")
	flag.Parse()
	rng := rand.New(rand.NewSource(*seed))

	gc, err := genetlink.Dial(nil)
	if err != nil {
		fail(err)
	}
	fam, err := gc.GetFamily(uapi.GenlName)
	gc.Close()
	if err != nil {
		fail(err)
	}
	c, err := netlink.Dial(unix.NETLINK_GENERIC, nil)
	if err != nil {
		fail(err)
	}
	defer c.Close()
	if err := c.SetOption(netlink.ExtendedAcknowledge, true); err != nil {
		fail(err)
	}
	// The operations the family has (a dump of a doit-only command is
	// EOPNOTSUPP, as in every genetlink family: not what this tests).
	type op struct {
		cmd  uint8
		dump bool
	}
	ops := []op{{uapi.CmdConnGet, false}, {uapi.CmdConnGet, true}, {uapi.CmdPathGet, true},
		{uapi.CmdConfigGet, false}, {uapi.CmdConfigSet, false}, {uapi.CmdGetInfo, false}}
	anyOp := func() (uint8, bool) { o := ops[rng.Intn(len(ops))]; return o.cmd, o.dump }

	// The malformed kinds; each returns (cmd, dump, attributes).
	kinds := map[string]func() (uint8, bool, []byte){
		"missing_id": func() (uint8, bool, []byte) { return uapi.CmdConnGet, false, nil },
		"missing_config": func() (uint8, bool, []byte) {
			return uapi.CmdConfigSet, false, nil
		},
		"wrong_size_id": func() (uint8, bool, []byte) {
			b := make([]byte, 1+rng.Intn(7))
			cmd, dump := anyOp()
			return cmd, dump, attr(uapi.AttrID, b)
		},
		"wrong_size_u8": func() (uint8, bool, []byte) {
			return uapi.CmdConfigSet, false, nest(uapi.AttrConfig, attr(uapi.AttrConfigPacing, make([]byte, 2+rng.Intn(20))))
		},
		"unknown_attr": func() (uint8, bool, []byte) {
			cmd, dump := anyOp()
			return cmd, dump, attr(uint16(uapi.AttrMax+1+rng.Intn(200)), u64(1))
		},
		"reply_only_attr": func() (uint8, bool, []byte) {
			t := []uint16{uapi.AttrConn, uapi.AttrPath, uapi.AttrQlog, uapi.AttrEvent, uapi.AttrPad}[rng.Intn(5)]
			cmd, dump := anyOp()
			return cmd, dump, attr(t, u64(7))
		},
		"oversized_string": func() (uint8, bool, []byte) {
			s := make([]byte, 16+rng.Intn(4000))
			for i := range s {
				s[i] = 'a'
			}
			return uapi.CmdConfigSet, false, nest(uapi.AttrConfig, attr(uapi.AttrConfigCC, append(s, 0)))
		},
		"unterminated_string": func() (uint8, bool, []byte) {
			return uapi.CmdConfigSet, false, nest(uapi.AttrConfig, attr(uapi.AttrConfigCC, []byte("cubic")))
		},
		"bad_versions": func() (uint8, bool, []byte) {
			return uapi.CmdConfigSet, false, nest(uapi.AttrConfig, attr(uapi.AttrConfigVersions, make([]byte, 1+rng.Intn(3))))
		},
		"truncated_attr": func() (uint8, bool, []byte) {
			a := attr(uapi.AttrID, u64(1))
			binary.NativeEndian.PutUint16(a[0:], uint16(12+4+rng.Intn(100)))
			cmd, dump := anyOp()
			return cmd, dump, a
		},
		"trailing_bytes": func() (uint8, bool, []byte) {
			return uapi.CmdConnGet, false, append(attr(uapi.AttrID, u64(1)), 1, 2, 3)
		},
		"nested_garbage": func() (uint8, bool, []byte) {
			g := make([]byte, 3+rng.Intn(40))
			rng.Read(g)
			g[0], g[1] = 2, 0 // a length below the attribute header
			return uapi.CmdConfigSet, false, attr(uapi.AttrConfig|unix.NLA_F_NESTED, g)
		},
		"config_not_nested": func() (uint8, bool, []byte) {
			return uapi.CmdConfigSet, false, attr(uapi.AttrConfig, u64(3))
		},
	}
	var names []string
	for k := range kinds {
		names = append(names, k)
	}
	sum := summary{ByKind: map[string]int{}, Errnos: map[string]int{}}
	bad := func(format string, a ...any) {
		if len(sum.Failures) < 30 {
			sum.Failures = append(sum.Failures, fmt.Sprintf(format, a...))
		}
	}
	for i := 0; i < *n; i++ {
		var kind string
		var cmd uint8
		var dump bool
		var attrs []byte
		if i%4 == 3 {
			// Random bytes after a random (possibly truncated) genl header.
			kind = "random"
			b := make([]byte, rng.Intn(300))
			rng.Read(b)
			cmd, dump = anyOp()
			attrs = b
		} else {
			kind = names[rng.Intn(len(names))]
			cmd, dump, attrs = kinds[kind]()
		}
		sum.ByKind[kind]++
		data := append([]byte{cmd, uint8(fam.Version), 0, 0}, attrs...)
		flags := netlink.Request | netlink.Acknowledge
		if dump {
			flags |= netlink.Dump
		}
		_, err := c.Execute(netlink.Message{Header: netlink.Header{Type: netlink.HeaderType(fam.ID), Flags: flags}, Data: data})
		sum.Sent++
		var oe *netlink.OpError
		msg := ""
		if errors.As(err, &oe) {
			msg = oe.Message
		}
		var errno unix.Errno
		if err != nil && !errors.As(err, &errno) {
			// The client lost track of the socket (a reply of an earlier
			// request): a fresh socket, the request again.
			c.Close()
			if c, err = netlink.Dial(unix.NETLINK_GENERIC, nil); err != nil {
				fail(err)
			}
			if err := c.SetOption(netlink.ExtendedAcknowledge, true); err != nil {
				fail(err)
			}
			sum.Resync++
			_, err = c.Execute(netlink.Message{Header: netlink.Header{Type: netlink.HeaderType(fam.ID), Flags: flags}, Data: data})
			msg = ""
			if errors.As(err, &oe) {
				msg = oe.Message
			}
			if err != nil && !errors.As(err, &errno) {
				bad("%s: cmd %d: not an errno: %v", kind, cmd, err)
				continue
			}
		}
		name := "ok"
		if err != nil {
			name = unix.ErrnoName(errno)
		}
		sum.Errnos[name]++
		if kind == "random" {
			if err != nil && errno != unix.EINVAL && errno != unix.ENOENT && errno != unix.ERANGE {
				bad("random: cmd %d dump %v: %v", cmd, dump, err)
			}
			continue
		}
		// Garbage inside the config nest may parse into an out-of-range value.
		if kind == "nested_garbage" && errno == unix.ERANGE && msg != "" {
			continue
		}
		if errno != unix.EINVAL || msg == "" {
			bad("%s: cmd %d dump %v: err %v extack %q, want EINVAL with a message", kind, cmd, dump, err, msg)
		}
	}
	json.NewEncoder(os.Stdout).Encode(sum)
	if len(sum.Failures) > 0 {
		os.Exit(1)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "nlfuzz:", err)
	os.Exit(2)
}
