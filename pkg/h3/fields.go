package h3

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/tquic/tquic/pkg/qpack"
)

// connectionSpecific lists header fields HTTP/3 forbids (RFC 9114 section
// 4.2); "te" is allowed only as "trailers".
var connectionSpecific = map[string]bool{
	"connection": true, "keep-alive": true, "proxy-connection": true,
	"transfer-encoding": true, "upgrade": true,
}

// commonLowerHeader maps canonical names of frequent header fields to
// their HTTP/3 (lower-case) form without allocating.
var commonLowerHeader = func() map[string]string {
	m := map[string]string{}
	for _, k := range []string{
		"Accept", "Accept-Charset", "Accept-Encoding", "Accept-Language", "Accept-Ranges",
		"Access-Control-Allow-Origin", "Age", "Allow", "Authorization", "Cache-Control",
		"Content-Disposition", "Content-Encoding", "Content-Language", "Content-Length",
		"Content-Location", "Content-Range", "Content-Type", "Cookie", "Date", "Etag",
		"Expect", "Expires", "From", "Host", "If-Match", "If-Modified-Since", "If-None-Match",
		"If-Range", "If-Unmodified-Since", "Last-Modified", "Link", "Location", "Max-Forwards",
		"Origin", "Priority", "Proxy-Authenticate", "Proxy-Authorization", "Range", "Referer",
		"Refresh", "Retry-After", "Server", "Set-Cookie", "Strict-Transport-Security", "Te",
		"Trailer", "User-Agent", "Vary", "Via", "Www-Authenticate", "X-Content-Type-Options",
		"X-Forwarded-For", "X-Frame-Options",
	} {
		m[k] = strings.ToLower(k)
	}
	return m
}()

// lowerHeader returns a header field name in lower case.
func lowerHeader(k string) string {
	if v, ok := commonLowerHeader[k]; ok {
		return v
	}
	return strings.ToLower(k)
}

// appendHeaderFields appends h's fields, lower-cased, skipping the
// connection-specific ones and the listed ones.
func appendHeaderFields(f []qpack.HeaderField, h http.Header, skip map[string]bool) []qpack.HeaderField {
	for k, vs := range h {
		name := lowerHeader(k)
		if connectionSpecific[name] || skip[name] || !validFieldName(k) {
			continue
		}
		for _, v := range vs {
			if !validFieldValue(v) {
				continue
			}
			if name == "te" && !strings.EqualFold(v, "trailers") {
				continue
			}
			f = append(f, qpack.HeaderField{Name: name, Value: v, NeverIndex: name == "authorization" || name == "proxy-authorization"})
		}
	}
	return f
}

// Pseudo-header fields seen in a message (message.has).
const (
	hasMethod = 1 << iota
	hasScheme
	hasAuthority
	hasPath
	hasProtocol
	hasStatus
)

// message is a decoded header section: pseudo-header fields and the rest.
type message struct {
	method, scheme, authority, path, protocol, status string
	has                                               uint8
	header                                            http.Header
	length                                            int64 // content-length, -1 if absent
}

// parseFields validates a header section (RFC 9114 section 4.3): pseudo
// fields first and not repeated, only the allowed ones, lower-case names,
// no connection-specific fields, consistent content-length.
func parseFields(fields []qpack.HeaderField, request bool) (*message, error) {
	regularCount := 0
	for _, f := range fields {
		if !strings.HasPrefix(f.Name, ":") {
			regularCount++
		}
	}
	m := &message{header: make(http.Header, regularCount), length: -1}
	// The values share one backing array: one allocation for all fields
	// that appear once.
	values := make([]string, regularCount)
	regular := false
	var cookies []string
	for _, f := range fields {
		if f.Name == "" {
			return nil, errStream(ErrCodeMessageError, "empty field name")
		}
		if f.Name[0] == ':' {
			if regular {
				return nil, errStream(ErrCodeMessageError, "pseudo-header %s after regular fields", f.Name)
			}
			var bit uint8
			var dst *string
			switch f.Name {
			case ":method":
				bit, dst = hasMethod, &m.method
			case ":scheme":
				bit, dst = hasScheme, &m.scheme
			case ":authority":
				bit, dst = hasAuthority, &m.authority
			case ":path":
				bit, dst = hasPath, &m.path
			case ":protocol":
				bit, dst = hasProtocol, &m.protocol
			case ":status":
				if request {
					return nil, errStream(ErrCodeMessageError, ":status in a request")
				}
				bit, dst = hasStatus, &m.status
			default:
				return nil, errStream(ErrCodeMessageError, "unknown pseudo-header %s", f.Name)
			}
			if bit != hasStatus && !request {
				return nil, errStream(ErrCodeMessageError, "request pseudo-header %s in a response", f.Name)
			}
			if m.has&bit != 0 {
				return nil, errStream(ErrCodeMessageError, "repeated %s", f.Name)
			}
			m.has |= bit
			*dst = f.Value
			continue
		}
		regular = true
		if !validLowerFieldName(f.Name) {
			return nil, errStream(ErrCodeMessageError, "invalid field name %q", f.Name)
		}
		if !validFieldValue(f.Value) {
			return nil, errStream(ErrCodeMessageError, "invalid value for %s", f.Name)
		}
		if connectionSpecific[f.Name] || (f.Name == "te" && f.Value != "trailers") {
			return nil, errStream(ErrCodeMessageError, "connection-specific field %s", f.Name)
		}
		switch f.Name {
		case "cookie":
			cookies = append(cookies, f.Value)
			continue
		case "content-length":
			n, err := strconv.ParseInt(f.Value, 10, 64)
			if err != nil || n < 0 || (m.length >= 0 && m.length != n) {
				return nil, errStream(ErrCodeMessageError, "invalid content-length %q", f.Value)
			}
			m.length = n
		}
		key := http.CanonicalHeaderKey(f.Name)
		if vs := m.header[key]; vs != nil || len(values) == 0 {
			m.header[key] = append(vs, f.Value)
		} else {
			values[0] = f.Value
			m.header[key] = values[:1:1]
			values = values[1:]
		}
	}
	if len(cookies) > 0 {
		// RFC 9114 section 4.2.1: join split cookie fields for HTTP/1.1
		// style consumers.
		m.header.Set("Cookie", strings.Join(cookies, "; "))
	}
	return m, nil
}

// validLowerFieldName is validFieldName for names that must also be lower
// case, as HTTP/3 requires.
func validLowerFieldName(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			return false
		}
	}
	return validFieldName(s)
}

// trailerFields converts a trailer section into a header.
func trailerFields(fields []qpack.HeaderField) (http.Header, error) {
	m, err := parseFields(fields, true)
	if err != nil {
		return nil, err
	}
	if m.has != 0 {
		return nil, errStream(ErrCodeMessageError, "pseudo-header in trailers")
	}
	return m.header, nil
}

// requestFromMessage builds the server-side request. extendedConnect says
// whether :protocol is allowed (SETTINGS_ENABLE_CONNECT_PROTOCOL sent).
func requestFromMessage(m *message, extendedConnect bool) (*http.Request, error) {
	method := m.method
	authority := m.authority
	if authority == "" {
		authority = m.header.Get("Host")
	}
	protocol, hasProtocol := m.protocol, m.has&hasProtocol != 0
	req := &http.Request{
		Method:     method,
		Proto:      "HTTP/3.0",
		ProtoMajor: 3,
		Header:     m.header,
		Host:       authority,
	}
	switch {
	case method == "":
		return nil, errStream(ErrCodeMessageError, "missing :method")
	case method == http.MethodConnect && !hasProtocol:
		if authority == "" || m.scheme != "" || m.path != "" {
			return nil, errStream(ErrCodeMessageError, "malformed CONNECT request")
		}
		req.URL = &url.URL{Host: authority}
		req.RequestURI = authority
	default:
		if hasProtocol && (method != http.MethodConnect || !extendedConnect) {
			return nil, errStream(ErrCodeMessageError, ":protocol without extended CONNECT")
		}
		path, scheme := m.path, m.scheme
		if path == "" || scheme == "" {
			return nil, errStream(ErrCodeMessageError, "missing :path or :scheme")
		}
		if (scheme == "http" || scheme == "https") && authority == "" {
			return nil, errStream(ErrCodeMessageError, "missing :authority")
		}
		var u *url.URL
		var err error
		if path == "*" && method == http.MethodOptions {
			u = &url.URL{Path: "*"}
		} else if u, err = url.ParseRequestURI(path); err != nil {
			return nil, errStream(ErrCodeMessageError, "invalid :path %q", path)
		}
		u.Scheme, u.Host = scheme, authority
		req.URL = u
		req.RequestURI = path
		if hasProtocol {
			// As quic-go does: the protocol of an extended CONNECT is
			// exposed as the request's Proto.
			req.Proto = protocol
		}
	}
	req.ContentLength = m.length
	if req.ContentLength < 0 && (method == http.MethodGet || method == http.MethodHead) {
		req.ContentLength = 0
	}
	if names := m.header.Values("Trailer"); len(names) > 0 {
		req.Trailer = declaredTrailers(names)
	}
	return req, nil
}

func declaredTrailers(names []string) http.Header {
	t := http.Header{}
	for _, v := range names {
		for _, k := range strings.Split(v, ",") {
			if k = http.CanonicalHeaderKey(strings.TrimSpace(k)); k != "" {
				t[k] = nil
			}
		}
	}
	return t
}

// validFieldName reports whether s is an RFC 9110 token.
func validFieldName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("\"(),/:;<=>?@[\\]{}", c) >= 0 {
			return false
		}
	}
	return true
}

// validFieldValue rejects the characters RFC 9114 section 4.2 forbids in
// field values: NUL, CR and LF, and leading or trailing whitespace.
func validFieldValue(s string) bool {
	if strings.ContainsAny(s, "\x00\r\n") {
		return false
	}
	return s == strings.Trim(s, " \t")
}
