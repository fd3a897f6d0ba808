package kernel

import (
	"fmt"
	"testing"
	"time"

	"github.com/tquic/tquic/test/vm"
)

// TestKernelMASQUE runs the host interop and bad-input tests of pkg/masque
// in one guest with our proxy (and, where the test has one, our client)
// over the kernel's QUIC sockets:
//   - CONNECT-UDP from quic-go's http3 client through our proxy: a DNS
//     request/response and a 10 MB transfer over HTTP datagrams, sha256
//     checked;
//   - CONNECT-UDP with our client over the kernel too, in datagram and
//     capsule mode (an 8000-byte payload in a capsule);
//   - CONNECT-IP: connect-ip-go's client against our proxy, its TUN device
//     in one network namespace, the proxy's TUN and the target in another:
//     ping and a 4 MB TCP transfer through the tunnel, sha256 checked;
//   - bad input (malformed capsules, unknown context IDs, oversized
//     datagrams, refused targets and scopes, an exhausted pool) with a
//     healthy flow that must stay undisturbed.
func TestKernelMASQUE(t *testing.T) {
	e := newEnv(t)
	e.goBuild("masque.test", true, "./pkg/masque")
	// The interop tests make their own namespaces and TUN devices.
	topo := &vm.Topology{Hosts: []string{"cli", "srv"}, Links: []vm.Link{{A: "cli", B: "srv"}}}
	e.run(topo, 10*time.Minute, fmt.Sprintf(`
modprobe tun
%s
exit 0
`, interopScript("masque", "pkg/masque",
		"TestInteropConnectUDPQuicGoHTTP3|TestConnectUDPOurClientCapsuleMode|TestInteropConnectIPConnectIPGo|TestConnectUDPBadInput|TestConnectIPBadInput",
		5*time.Minute)))

	t.Run("Interop", func(t *testing.T) {
		e.checkInterop(t, "masque", []string{
			"TestInteropConnectUDPQuicGoHTTP3", "TestInteropConnectUDPQuicGoHTTP3/DNS", "TestInteropConnectUDPQuicGoHTTP3/Transfer10MB",
			"TestConnectUDPOurClientCapsuleMode",
			"TestInteropConnectIPConnectIPGo", "TestInteropConnectIPConnectIPGo/Ping", "TestInteropConnectIPConnectIPGo/TCP",
			"TestConnectUDPBadInput", "TestConnectIPBadInput",
		})
		// One proxy connection per test at least.
		e.checkKernelUsed(t, "masque", 5, true)
	})
}
