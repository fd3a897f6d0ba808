package masque

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"testing"
)

func TestUDPTemplateRoundTrip(t *testing.T) {
	tmpl, err := ParseTemplate(fmt.Sprintf(DefaultUDPTemplate, "proxy.example:4433"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		host string
		port uint16
		path string
	}{
		{"192.0.2.6", 443, "/.well-known/masque/udp/192.0.2.6/443/"},
		{"2001:db8::42", 53, "/.well-known/masque/udp/2001%3Adb8%3A%3A42/53/"},
		{"example.com", 8443, "/.well-known/masque/udp/example.com/8443/"},
	} {
		u, err := ExpandUDP(tmpl, c.host, c.port)
		if err != nil {
			t.Fatal(err)
		}
		if u.RequestURI() != c.path {
			t.Errorf("expand %s: %s, want %s", c.host, u.RequestURI(), c.path)
		}
		req, _ := http.NewRequest(http.MethodConnect, u.String(), nil)
		h, p, err := MatchUDP(tmpl, req)
		if err != nil || h != c.host || p != c.port {
			t.Errorf("match %s: %q %d %v", u, h, p, err)
		}
	}
	q, err := ParseTemplate("https://proxy:1/masque?h={target_host}&p={target_port}")
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodConnect, "https://proxy:1/masque?h=10.0.0.1&p=9", nil)
	if h, p, err := MatchUDP(q, req); err != nil || h != "10.0.0.1" || p != 9 {
		t.Errorf("query template: %q %d %v", h, p, err)
	}
	for _, bad := range []string{
		"/.well-known/masque/udp/1.2.3.4/0/",
		"/.well-known/masque/udp/1.2.3.4/70000/",
		"/.well-known/masque/udp/1.2.3.4/x/",
		"/other/1.2.3.4/53/",
	} {
		req, _ := http.NewRequest(http.MethodConnect, "https://proxy.example:4433"+bad, nil)
		if _, _, err := MatchUDP(tmpl, req); !errors.Is(err, ErrBadTarget) && !errors.Is(err, ErrTemplateMismatch) {
			t.Errorf("%s: %v", bad, err)
		}
	}
}

func TestIPTemplate(t *testing.T) {
	tmpl, err := ParseTemplate(fmt.Sprintf(DefaultIPTemplate, "p:1"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		target netip.Prefix
		proto  uint8
	}{
		{netip.Prefix{}, 0},
		{netip.MustParsePrefix("10.1.0.0/16"), 17},
		{netip.MustParsePrefix("2001:db8::1/128"), 0},
	} {
		u, err := ExpandIP(tmpl, c.target, c.proto)
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest(http.MethodConnect, u.String(), nil)
		target, proto, err := MatchIP(tmpl, req)
		if err != nil || target != c.target || proto != c.proto {
			t.Errorf("%s: %v %d %v", u, target, proto, err)
		}
	}
	req, _ := http.NewRequest(http.MethodConnect, "https://p:1/.well-known/masque/ip/10.1.2.3%2F8/*/", nil)
	if _, _, err := MatchIP(tmpl, req); !errors.Is(err, ErrBadTarget) {
		t.Errorf("unmasked prefix: %v", err)
	}
	vpn, err := ParseTemplate("https://p:1/vpn")
	if err != nil {
		t.Fatal(err)
	}
	req, _ = http.NewRequest(http.MethodConnect, "https://p:1/vpn", nil)
	if target, proto, err := MatchIP(vpn, req); err != nil || target.IsValid() || proto != 0 {
		t.Errorf("variable-free template: %v %d %v", target, proto, err)
	}
}
