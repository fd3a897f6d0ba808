package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tquic/tquic/internal/testpki"
)

// TestTquicdRemote runs tquicd next to the module and drives it with
// tquicctl --remote over mutual TLS: reads, a write, and the refusals.
func TestTquicdRemote(t *testing.T) {
	e := setup(t)
	pki, err := testpki.Write(e.share)
	if err != nil {
		t.Fatal(err)
	}
	conf := `{"listen":"127.0.0.1:7443","tls_cert":"` + pki.ServerCert + `","tls_key":"` + pki.ServerKey + `","client_ca":"` + pki.CA + `"}`
	if err := os.WriteFile(filepath.Join(e.share, "tquicd.json"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	remote := e.tquicctl + " --remote 127.0.0.1:7443 --tls-ca " + pki.CA + " --tls-cert " + pki.ClientCert + " --tls-key " + pki.ClientKey
	out := e.share
	script := `set -e
test/vm/load-tquic.sh ` + e.module + `
` + e.tquicd + ` --config ` + out + `/tquicd.json 2>` + out + `/tquicd.log &
daemon=$!
i=0
until grep -q serving ` + out + `/tquicd.log; do i=$((i+1)); [ $i -lt 400 ] || { cat ` + out + `/tquicd.log; exit 1; }; sleep 0.05; done
` + remote + ` show -j >` + out + `/remote.json
` + remote + ` set cc newreno idle-timeout 7s
` + remote + ` show >` + out + `/remote.txt
` + e.tquicctl + ` show -j >` + out + `/local.json
` + remote + ` selftest
if ` + remote + ` set cc reno 2>` + out + `/refused.err; then echo "remote set of an unknown cc accepted"; exit 1; fi
# Without a client certificate mutual TLS refuses the connection.
if ` + e.tquicctl + ` --remote 127.0.0.1:7443 --tls-ca ` + pki.CA + ` show 2>` + out + `/nocert.err; then echo "served without a client certificate"; exit 1; fi
kill $daemon
wait $daemon || true
rmmod tquic
`
	e.run(t, script)

	remote1, local := e.readShow(t, "remote.json"), e.readShow(t, "local.json")
	if remote1.Version == "" || remote1.Config.CongestionControl != "cubic" {
		t.Fatalf("remote show before set: %+v", remote1)
	}
	if local.Config.CongestionControl != "newreno" || local.Config.IdleTimeoutNs != 7e9 {
		t.Fatalf("remote set did not reach the module: local config %+v", local.Config)
	}
	txt, _ := os.ReadFile(filepath.Join(out, "remote.txt"))
	if !strings.Contains(string(txt), "newreno") {
		t.Fatalf("remote show after set: %s", txt)
	}
	refused, _ := os.ReadFile(filepath.Join(out, "refused.err"))
	if !strings.Contains(string(refused), "unknown congestion control") {
		t.Fatalf("remote refusal said %q", refused)
	}
	nocert, _ := os.ReadFile(filepath.Join(out, "nocert.err"))
	if len(nocert) == 0 {
		t.Fatal("no error printed for a client without a certificate")
	}
}
