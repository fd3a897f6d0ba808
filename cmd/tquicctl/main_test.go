package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"github.com/tquic/tquic/pkg/tquicnl"
)

func TestPrintInfo(t *testing.T) {
	info := &tquicnl.Info{Version: "0.1.0", BuildID: "0123456789abcdef",
		Crypto: []tquicnl.CryptoDriver{{Algorithm: "gcm(aes)", Driver: "generic-gcm-aesni"}}}
	cfg := &tquicnl.Config{CongestionControl: "cubic", Versions: []tquicnl.Version{tquicnl.Version2, tquicnl.Version1}}
	out := showOutput{Info: info, Config: cfg}
	var human, js bytes.Buffer
	if err := printShow(&human, out, false); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(human.String(), "version:  0.1.0") || !strings.Contains(human.String(), "generic-gcm-aesni") ||
		!strings.Contains(human.String(), "versions       v2,v1") {
		t.Fatalf("human output %q", human.String())
	}
	if err := printShow(&js, out, true); err != nil {
		t.Fatal(err)
	}
	var back struct {
		tquicnl.Info
		Config struct {
			Versions []string `json:"versions"`
		} `json:"config"`
	}
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || back.Crypto[0].Driver != "generic-gcm-aesni" ||
		len(back.Config.Versions) != 2 || back.Config.Versions[0] != "v2" {
		t.Fatalf("json output %q: %v", js.String(), err)
	}
}

func TestUsageErrorsExitWithUsageCode(t *testing.T) {
	for _, args := range [][]string{
		{"tquicctl", "show", "--bogus"},
		{"tquicctl", "show", "extra"},
		{"tquicctl", "selftest", "extra"},
		{"tquicctl", "set"},
		{"tquicctl", "set", "cc"},
		{"tquicctl", "set", "bogus", "1"},
		{"tquicctl", "set", "versions", "v3"},
		{"tquicctl", "set", "pacing", "maybe"},
		{"tquicctl", "set", "ecn", "ect2"},
		{"tquicctl", "set", "amplification", "300"},
		{"tquicctl", "set", "idle-timeout", "soon"},
		{"tquicctl", "set", "cid-len", "-1"},
		{"tquicctl", "set", "cc", "cubic", "cc", "newreno"},
	} {
		var out bytes.Buffer
		err := newApp(&out).Run(args)
		if err == nil || exitCode(err) != exitUsage {
			t.Errorf("%v: err %v (exit %d), want exit %d", args, err, exitCode(err), exitUsage)
		}
	}
}

func TestModuleNotLoadedExitCode(t *testing.T) {
	if got := exitCode(tquicnl.ErrModuleNotLoaded); got != exitModuleNotLoaded {
		t.Fatalf("exit code %d, want %d", got, exitModuleNotLoaded)
	}
	if got := exitCode(errors.New("boom")); got != exitFailure {
		t.Fatalf("exit code %d, want %d", got, exitFailure)
	}
	if got := exitCode(cli.Exit("x", 7)); got != 7 {
		t.Fatalf("exit code %d, want 7", got)
	}
}

func TestParseSetArgs(t *testing.T) {
	u, err := parseSetArgs([]string{"cc", "newreno", "versions", "v2,v1", "pacing", "off", "ecn", "l4s",
		"amplification", "3", "retry", "under-load", "idle-timeout", "10s", "cid-len", "12"})
	if err != nil {
		t.Fatal(err)
	}
	if *u.CongestionControl != "newreno" || len(u.Versions) != 2 || u.Versions[0] != tquicnl.Version2 ||
		*u.Pacing || *u.ECN != tquicnl.ECNL4S || *u.Amplification != 3 || *u.Retry != tquicnl.RetryUnderLoad ||
		u.IdleTimeout.Seconds() != 10 || *u.CIDLen != 12 {
		t.Fatalf("parsed %+v", u)
	}
}

func TestConnCommandUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"tquicctl", "conn", "show"},
		{"tquicctl", "conn", "show", "abc"},
		{"tquicctl", "conn", "show", "0"},
		{"tquicctl", "conn", "show", "1", "2"},
		{"tquicctl", "conn", "list", "extra"},
		{"tquicctl", "conn", "list", "-i", "1ms"},
		{"tquicctl", "path", "list", "x"},
		{"tquicctl", "qlog", "extra"},
		{"tquicctl", "set", "qlog", "maybe"},
		{"tquicctl", "completion", "fish"},
	} {
		var out bytes.Buffer
		err := newApp(&out).Run(args)
		if err == nil || exitCode(err) != exitUsage {
			t.Errorf("%v: err %v (exit %d), want exit %d", args, err, exitCode(err), exitUsage)
		}
	}
	if got := exitCode(&tquicnl.KernelError{Kind: tquicnl.ErrNoConn, Err: errors.New("x")}); got != exitNoConn {
		t.Errorf("no such connection: exit %d, want %d", got, exitNoConn)
	}
}

func TestPrintConn(t *testing.T) {
	c := &tquicnl.Conn{ID: 4, State: tquicnl.ConnEstablished, Engine: true, Version: tquicnl.Version1,
		Local: "10.0.0.1:1", Peer: "10.0.0.2:443", CongestionControl: "cubic", BytesSent: 123}
	var tbl, one bytes.Buffer
	printConnTable(&tbl, []tquicnl.Conn{*c})
	printConn(&one, c)
	if !strings.Contains(tbl.String(), "established") || !strings.Contains(tbl.String(), "10.0.0.2:443") ||
		!strings.Contains(one.String(), "123 / 0") || !strings.Contains(one.String(), "cubic") {
		t.Fatalf("table %q\nshow %q", tbl.String(), one.String())
	}
}
