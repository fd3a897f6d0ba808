package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tquic/tquic/internal/testpki"
)

func TestURLLast(t *testing.T) {
	got := urlLast([]string{"tquic-h3", "get", "--ca", "ca.pem", "https://h:1/x", "-o", "out"})
	want := []string{"tquic-h3", "get", "--ca", "ca.pem", "-o", "out", "https://h:1/x"}
	if !slices.Equal(got, want) {
		t.Fatalf("urlLast: %q, want %q", got, want)
	}
}

// TestServeAndGet runs the server and get over quic-go (the kernel variant
// runs in the VM tests of test/kernel): a file comes back byte for byte,
// a wrong --want-sha256 and a missing file fail.
func TestServeAndGet(t *testing.T) {
	dir := t.TempDir()
	pki, err := testpki.Write(dir)
	if err != nil {
		t.Fatal(err)
	}
	www := filepath.Join(dir, "www")
	if err := os.Mkdir(www, 0o755); err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 3<<20+17)
	rand.Read(data)
	if err := os.WriteFile(filepath.Join(www, "f.bin"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256(data)
	sum := hex.EncodeToString(h[:])

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- newApp(pw, io.Discard).RunContext(ctx, []string{"tquic-h3", "server", "--impl", "quic-go",
			"--listen", "127.0.0.1:0", "--cert", pki.ServerCert, "--key", pki.ServerKey, "--dir", www})
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("server: %v (%v)", err, <-done)
	}
	f := strings.Fields(line)
	if len(f) < 3 || f[0] != "listening" {
		t.Fatalf("server printed %q", line)
	}
	go io.Copy(io.Discard, pr)
	addr := f[2]

	get := func(args ...string) (result, error) {
		var out bytes.Buffer
		err := newApp(&out, io.Discard).RunContext(ctx, urlLast(append([]string{"tquic-h3", "get", "--impl", "quic-go",
			"--ca", pki.CA, "--server-name", "localhost", "--json"}, args...)))
		var r result
		if jerr := json.Unmarshal(out.Bytes(), &r); jerr != nil && err == nil {
			t.Fatalf("get %v: %v in %q", args, jerr, out.String())
		}
		return r, err
	}
	saved := filepath.Join(dir, "saved.bin")
	r, err := get("https://"+addr+"/f.bin", "-o", saved, "--want-sha256", sum)
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	if r.Status != 200 || r.Bytes != int64(len(data)) || r.SHA256 != sum || r.Proto != "HTTP/3.0" {
		t.Fatalf("report %+v", r)
	}
	if got, err := os.ReadFile(saved); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("saved file: %d bytes, %v", len(got), err)
	}
	if _, err := get("https://"+addr+"/f.bin", "--want-sha256", strings.Repeat("0", 64)); err == nil || !strings.Contains(err.Error(), "sha256") {
		t.Fatalf("wrong --want-sha256: %v", err)
	}
	if r, err := get("https://" + addr + "/missing"); err == nil || r.Status != 404 {
		t.Fatalf("missing file: status %d, %v", r.Status, err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("server: %v", err)
	}
}
