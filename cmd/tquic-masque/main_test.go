package main

import (
	"context"
	"io"
	"log"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/tquic/tquic/pkg/masque"
)

// runCommand runs one subcommand of the app with fn as its action.
func runCommand(ctx context.Context, args []string, fn func(c *cli.Context) error) error {
	app := newApp(io.Discard)
	for _, cmd := range app.Commands {
		if cmd.Name == args[1] {
			cmd.Action = fn
		}
	}
	return app.RunContext(ctx, args)
}

func TestProxyAndUDPClient(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	logger := log.New(io.Discard, "", 0)
	echo, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer echo.Close()
	go func() {
		buf := make([]byte, 2048)
		for {
			n, from, err := echo.ReadFrom(buf)
			if err != nil {
				return
			}
			echo.WriteTo(buf[:n], from)
		}
	}()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	proxyReady := make(chan string, 1)
	go runCommand(ctx, []string{"tquic-masque", "proxy", "--impl", "quic-go", "--listen", "127.0.0.1:0", "--self-signed-ca-out", ca,
		"--allow", "127.0.0.1/32:" + portOf(echo.LocalAddr())},
		func(c *cli.Context) error { return runProxy(c.Context, c, logger, proxyReady) })
	proxyAddr := <-proxyReady

	clientReady := make(chan string, 1)
	go runCommand(ctx, []string{"tquic-masque", "udp", "--impl", "quic-go", "--proxy", proxyAddr, "--server-name", "localhost", "--ca", ca,
		"--target", echo.LocalAddr().String()},
		func(c *cli.Context) error { return runUDPClient(c.Context, c, logger, clientReady) })
	local := <-clientReady

	conn, err := net.Dial("udp", local)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	buf := make([]byte, 100)
	for {
		conn.Write([]byte("through the proxy"))
		conn.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		n, err := conn.Read(buf)
		if err == nil {
			if string(buf[:n]) != "through the proxy" {
				t.Fatalf("got %q", buf[:n])
			}
			break
		}
		if ctx.Err() != nil {
			t.Fatal("no echo through the proxy")
		}
	}
	if _, err := os.Stat(ca); err != nil {
		t.Fatal(err)
	}
}

func portOf(a net.Addr) string {
	_, p, _ := net.SplitHostPort(a.String())
	return p
}

func TestRangePrefixes(t *testing.T) {
	r := masque.IPRange{Start: netip.MustParseAddr("10.0.0.1"), End: netip.MustParseAddr("10.0.0.6")}
	got := rangePrefixes(r)
	want := []string{"10.0.0.1/32", "10.0.0.2/31", "10.0.0.4/31", "10.0.0.6/32"}
	if len(got) != len(want) {
		t.Fatalf("%v", got)
	}
	for i := range want {
		if got[i].String() != want[i] {
			t.Fatalf("%v", got)
		}
	}
	all := rangePrefixes(masque.PrefixRange(netip.MustParsePrefix("0.0.0.0/0"), 0))
	if len(all) != 1 || all[0].String() != "0.0.0.0/0" {
		t.Fatalf("%v", all)
	}
}
