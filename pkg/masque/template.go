package masque

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"

	"github.com/yosida95/uritemplate/v3"
)

// Default templates (RFC 9298 section 3, RFC 9484 section 4.1) with %s
// standing for the proxy's host:port.
const (
	DefaultUDPTemplate = "https://%s/.well-known/masque/udp/{target_host}/{target_port}/"
	DefaultIPTemplate  = "https://%s/.well-known/masque/ip/{target}/{ipproto}/"
)

// ErrTemplateMismatch reports a request whose URL does not match the
// proxy's template.
var ErrTemplateMismatch = errors.New("masque: request does not match the URI template")

// ErrBadTarget reports template variables that do not name a valid
// target.
var ErrBadTarget = errors.New("masque: invalid target")

// ParseTemplate parses an RFC 6570 URI template for a proxy.
func ParseTemplate(s string) (*uritemplate.Template, error) {
	t, err := uritemplate.New(s)
	if err != nil {
		return nil, fmt.Errorf("masque: URI template %q: %w", s, err)
	}
	u, err := url.Parse(strings.SplitN(s, "{", 2)[0])
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("masque: URI template %q must be an absolute https URL", s)
	}
	return t, nil
}

func hasVar(t *uritemplate.Template, name string) bool {
	for _, v := range t.Varnames() {
		if v == name {
			return true
		}
	}
	return false
}

// ExpandUDP expands a CONNECT-UDP template for a target.
func ExpandUDP(t *uritemplate.Template, host string, port uint16) (*url.URL, error) {
	if !hasVar(t, "target_host") || !hasVar(t, "target_port") {
		return nil, errors.New("masque: CONNECT-UDP template lacks target_host or target_port")
	}
	v := uritemplate.Values{}
	v.Set("target_host", uritemplate.String(host))
	v.Set("target_port", uritemplate.String(strconv.Itoa(int(port))))
	s, err := t.Expand(v)
	if err != nil {
		return nil, fmt.Errorf("masque: expand template: %w", err)
	}
	return url.Parse(s)
}

// ExpandIP expands a CONNECT-IP template for a target prefix (invalid for
// any, "*") and IP protocol (0 for any). Templates without the variables
// (full tunnels) expand to themselves.
func ExpandIP(t *uritemplate.Template, target netip.Prefix, proto uint8) (*url.URL, error) {
	v := uritemplate.Values{}
	ts := "*"
	if target.IsValid() {
		if target.Bits() == target.Addr().BitLen() {
			ts = target.Addr().String()
		} else {
			ts = target.String()
		}
	}
	ps := "*"
	if proto != 0 {
		ps = strconv.Itoa(int(proto))
	}
	v.Set("target", uritemplate.String(ts))
	v.Set("ipproto", uritemplate.String(ps))
	s, err := t.Expand(v)
	if err != nil {
		return nil, fmt.Errorf("masque: expand template: %w", err)
	}
	// RFC 9484 writes the wildcard as a plain "*".
	return url.Parse(strings.ReplaceAll(s, "%2A", "*"))
}

// match matches a request against a template and returns its variables.
func match(t *uritemplate.Template, r *http.Request) (uritemplate.Values, error) {
	raw := t.Raw()
	base, err := url.Parse(strings.SplitN(raw, "{", 2)[0])
	if err != nil {
		return nil, err
	}
	uri := base.Scheme + "://" + base.Host + r.URL.RequestURI()
	v := t.Match(uri)
	if v == nil {
		// "*" (any target or protocol) is often sent unencoded.
		v = t.Match(strings.ReplaceAll(uri, "*", "%2A"))
	}
	if v == nil {
		return nil, fmt.Errorf("%w: %s", ErrTemplateMismatch, r.URL.RequestURI())
	}
	return v, nil
}

func value(v uritemplate.Values, name string) (string, error) {
	s := v.Get(name).String()
	u, err := url.PathUnescape(s)
	if err != nil {
		return "", fmt.Errorf("%w: %s %q", ErrBadTarget, name, s)
	}
	return u, nil
}

// MatchUDP extracts a CONNECT-UDP request's target host and port.
func MatchUDP(t *uritemplate.Template, r *http.Request) (host string, port uint16, err error) {
	v, err := match(t, r)
	if err != nil {
		return "", 0, err
	}
	host, err = value(v, "target_host")
	if err != nil {
		return "", 0, err
	}
	ps, err := value(v, "target_port")
	if err != nil {
		return "", 0, err
	}
	p, err := strconv.ParseUint(ps, 10, 16)
	if err != nil || p == 0 {
		return "", 0, fmt.Errorf("%w: port %q", ErrBadTarget, ps)
	}
	if host == "" || strings.ContainsAny(host, "/ ") {
		return "", 0, fmt.Errorf("%w: host %q", ErrBadTarget, host)
	}
	return host, uint16(p), nil
}

// MatchIP extracts a CONNECT-IP request's scope: the target prefix
// (invalid for "*" or a template without it) and IP protocol (0 for "*").
// Host names as targets are not supported.
func MatchIP(t *uritemplate.Template, r *http.Request) (target netip.Prefix, proto uint8, err error) {
	v, err := match(t, r)
	if err != nil {
		return netip.Prefix{}, 0, err
	}
	if hasVar(t, "target") {
		s, err := value(v, "target")
		if err != nil {
			return netip.Prefix{}, 0, err
		}
		if s != "*" {
			if strings.Contains(s, "/") {
				target, err = netip.ParsePrefix(s)
			} else {
				var a netip.Addr
				a, err = netip.ParseAddr(s)
				target = netip.PrefixFrom(a, a.BitLen())
			}
			if err != nil || target.Masked() != target {
				return netip.Prefix{}, 0, fmt.Errorf("%w: target %q", ErrBadTarget, s)
			}
		}
	}
	if hasVar(t, "ipproto") {
		s, err := value(v, "ipproto")
		if err != nil {
			return netip.Prefix{}, 0, err
		}
		if s != "*" {
			p, err := strconv.ParseUint(s, 10, 8)
			if err != nil {
				return netip.Prefix{}, 0, fmt.Errorf("%w: ipproto %q", ErrBadTarget, s)
			}
			proto = uint8(p)
		}
	}
	return target, proto, nil
}
