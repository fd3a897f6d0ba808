package masque

import (
	"fmt"
	"net/netip"
	"os"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// TUN is a Linux TUN device carrying raw IP packets (no packet
// information header). It is created in the network namespace of the
// calling thread.
type TUN struct {
	f    *os.File
	name string
}

// CreateTUN creates (or attaches to) the TUN device name; an empty name
// lets the kernel pick one.
func CreateTUN(name string) (*TUN, error) {
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("masque: open /dev/net/tun: %w", err)
	}
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("masque: TUN name %q: %w", name, err)
	}
	ifr.SetUint16(unix.IFF_TUN | unix.IFF_NO_PI)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("masque: TUNSETIFF %q: %w", name, err)
	}
	return &TUN{f: os.NewFile(uintptr(fd), "tun"), name: ifr.Name()}, nil
}

// Name returns the interface name.
func (t *TUN) Name() string { return t.name }

// Read reads one IP packet.
func (t *TUN) Read(p []byte) (int, error) { return t.f.Read(p) }

// Write writes one IP packet.
func (t *TUN) Write(p []byte) (int, error) { return t.f.Write(p) }

// Close removes the device (unless it is persistent).
func (t *TUN) Close() error { return t.f.Close() }

// Configure sets the MTU, adds addresses and routes through the device
// and brings it up, in the calling thread's network namespace.
func (t *TUN) Configure(mtu int, addrs []netip.Prefix, routes []netip.Prefix) error {
	link, err := netlink.LinkByName(t.name)
	if err != nil {
		return fmt.Errorf("masque: find %s: %w", t.name, err)
	}
	if mtu > 0 {
		if err := netlink.LinkSetMTU(link, mtu); err != nil {
			return fmt.Errorf("masque: set MTU of %s: %w", t.name, err)
		}
	}
	for _, a := range addrs {
		ipn := prefixToIPNet(a)
		if err := netlink.AddrAdd(link, &netlink.Addr{IPNet: ipn}); err != nil {
			return fmt.Errorf("masque: add address %s to %s: %w", a, t.name, err)
		}
	}
	if err := netlink.LinkSetUp(link); err != nil {
		return fmt.Errorf("masque: bring %s up: %w", t.name, err)
	}
	for _, r := range routes {
		if err := netlink.RouteReplace(&netlink.Route{LinkIndex: link.Attrs().Index, Dst: prefixToIPNet(r.Masked())}); err != nil {
			return fmt.Errorf("masque: route %s via %s: %w", r, t.name, err)
		}
	}
	return nil
}
