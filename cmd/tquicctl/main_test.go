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
	var human, js bytes.Buffer
	if err := printInfo(&human, info, false); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(human.String(), "version:  0.1.0") || !strings.Contains(human.String(), "generic-gcm-aesni") {
		t.Fatalf("human output %q", human.String())
	}
	if err := printInfo(&js, info, true); err != nil {
		t.Fatal(err)
	}
	var back tquicnl.Info
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || back.Crypto[0].Driver != "generic-gcm-aesni" {
		t.Fatalf("json output %q: %v", js.String(), err)
	}
}

func TestUsageErrorsExitWithUsageCode(t *testing.T) {
	for _, args := range [][]string{
		{"tquicctl", "show", "--bogus"},
		{"tquicctl", "show", "extra"},
		{"tquicctl", "selftest", "extra"},
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
