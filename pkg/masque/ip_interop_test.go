package masque

import (
	"context"
	"crypto/sha256"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"testing"
	"time"

	connectip "github.com/quic-go/connect-ip-go"
	"github.com/quic-go/quic-go"
	"github.com/yosida95/uritemplate/v3"
	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
)

const tunMTU = 1150

// TestInteropConnectIPConnectIPGo runs connect-ip-go's client against our
// CONNECT-IP proxy: the client's TUN device lives in namespace A, the
// proxy's TUN device and the target address in namespace B; a ping and a
// TCP transfer from A to B cross the tunnel.
func TestInteropConnectIPConnectIPGo(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	nsA := newNetNS(t, "tqA")
	nsB := newNetNS(t, "tqB")
	target := netip.MustParseAddr("10.214.0.1")
	run(t, "ip", "-n", nsB, "addr", "add", target.String()+"/32", "dev", "lo")

	pool, err := NewAddrPool(netip.MustParsePrefix("10.213.0.0/24"))
	if err != nil {
		t.Fatal(err)
	}
	var ptun *TUN
	if err := inNetNS(nsB, func() error {
		var err error
		if ptun, err = CreateTUN("tqp0"); err != nil {
			return err
		}
		return ptun.Configure(tunMTU, []netip.Prefix{netip.PrefixFrom(pool.Gateway(), 24)}, nil)
	}); err != nil {
		t.Fatal(err)
	}
	defer ptun.Close()

	tmpl, _ := ParseTemplate("https://localhost/vpn")
	acl, _ := ParseACL("10.214.0.0/24")
	proxy := &IPProxy{Template: tmpl, ACL: acl, Pool: pool, Device: ptun, MTU: tunMTU}
	go proxy.Run(ctx)
	addr, clientTLS := startProxy(t, proxy)

	// connect-ip-go client.
	tr := &connectip.Transport{TLSClientConfig: clientTLS, QUICConfig: &quic.Config{EnableDatagrams: true}}
	req, err := connectip.NewRequest(ctx, uritemplate.MustNew("https://"+addr+"/vpn"))
	if err != nil {
		t.Fatal(err)
	}
	conn, rsp, err := tr.Dial(req)
	if err != nil {
		t.Fatalf("dial: %v (%v)", err, rsp)
	}
	defer conn.Close()
	prefixes, err := conn.LocalPrefixes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	routes, err := conn.Routes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(prefixes) != 1 || !pool.Prefix().Contains(prefixes[0].Addr()) {
		t.Fatalf("assigned %v", prefixes)
	}
	var routePrefixes []netip.Prefix
	for _, r := range routes {
		routePrefixes = append(routePrefixes, r.Prefixes()...)
	}
	if len(routePrefixes) != 1 || routePrefixes[0] != netip.MustParsePrefix("10.214.0.0/24") {
		t.Fatalf("routes %v", routes)
	}
	var ctun *TUN
	if err := inNetNS(nsA, func() error {
		var err error
		if ctun, err = CreateTUN("tqc0"); err != nil {
			return err
		}
		return ctun.Configure(tunMTU, prefixes, routePrefixes)
	}); err != nil {
		t.Fatal(err)
	}
	defer ctun.Close()
	go func() {
		buf := make([]byte, 65536)
		for {
			n, err := ctun.Read(buf)
			if err != nil {
				return
			}
			icmpPkt, err := conn.WritePacket(buf[:n])
			if err != nil {
				return
			}
			if len(icmpPkt) > 0 {
				ctun.Write(icmpPkt)
			}
		}
	}()
	go func() {
		buf := make([]byte, 65536)
		for {
			n, err := conn.ReadPacket(buf)
			if err != nil {
				return
			}
			ctun.Write(buf[:n])
		}
	}()

	t.Run("Ping", func(t *testing.T) {
		var pc *icmp.PacketConn
		if err := inNetNS(nsA, func() error {
			var err error
			pc, err = icmp.ListenPacket("ip4:icmp", "0.0.0.0")
			return err
		}); err != nil {
			t.Fatal(err)
		}
		defer pc.Close()
		for seq := 1; seq <= 3; seq++ {
			msg := icmp.Message{Type: ipv4.ICMPTypeEcho, Body: &icmp.Echo{ID: 0x7151, Seq: seq, Data: []byte("tquic masque ping")}}
			b, _ := msg.Marshal(nil)
			if _, err := pc.WriteTo(b, &net.IPAddr{IP: target.AsSlice()}); err != nil {
				t.Fatal(err)
			}
			pc.SetReadDeadline(time.Now().Add(5 * time.Second))
			for {
				buf := make([]byte, 1500)
				n, from, err := pc.ReadFrom(buf)
				if err != nil {
					t.Fatalf("ping %d: %v", seq, err)
				}
				m, err := icmp.ParseMessage(1, buf[:n])
				if err != nil || m.Type != ipv4.ICMPTypeEchoReply {
					continue
				}
				if e := m.Body.(*icmp.Echo); e.Seq == seq && from.String() == target.String() {
					break
				}
			}
		}
	})

	t.Run("TCP", func(t *testing.T) {
		data := make([]byte, 4<<20)
		rand.NewChaCha8([32]byte{9}).Read(data)
		var ln net.Listener
		if err := inNetNS(nsB, func() error {
			var err error
			ln, err = net.Listen("tcp", net.JoinHostPort(target.String(), "0"))
			return err
		}); err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		go func() {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Write(data)
			c.Close()
		}()
		var c net.Conn
		if err := inNetNS(nsA, func() error {
			var err error
			d := net.Dialer{Timeout: 10 * time.Second}
			c, err = d.DialContext(ctx, "tcp", ln.Addr().String())
			return err
		}); err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(40 * time.Second))
		start := time.Now()
		got, err := io.ReadAll(c)
		if err != nil {
			t.Fatal(err)
		}
		if sha256.Sum256(got) != sha256.Sum256(data) {
			t.Fatalf("TCP transfer: %d bytes, sha256 mismatch", len(got))
		}
		t.Logf("4 MB over TCP through the tunnel in %v", time.Since(start))
	})
	if proxy.Stats.Forwarded.Load() == 0 {
		t.Error("proxy forwarded nothing")
	}
}
