package h3_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/tquic/tquic/internal/quicgoadapter"
	"github.com/tquic/tquic/pkg/capsule"
	"github.com/tquic/tquic/pkg/h3"
	"github.com/tquic/tquic/pkg/qpack"
	"github.com/tquic/tquic/pkg/transport"
)

func frame(typ uint64, payload []byte) []byte {
	b := capsule.AppendVarint(nil, typ)
	b = capsule.AppendVarint(b, uint64(len(payload)))
	return append(b, payload...)
}

func uni(typ uint64, rest ...[]byte) []byte {
	b := capsule.AppendVarint(nil, typ)
	for _, r := range rest {
		b = append(b, r...)
	}
	return b
}

var settingsFrame = frame(h3.FrameSettings, nil)

// headersFrame encodes a static-only request header section.
func requestHeaders(kv ...string) []byte {
	var f []qpack.HeaderField
	for i := 0; i < len(kv); i += 2 {
		f = append(f, qpack.HeaderField{Name: kv[i], Value: kv[i+1]})
	}
	sec, _ := qpack.NewEncoder().EncodeFieldSection(0, f)
	return frame(h3.FrameHeaders, sec)
}

var goodRequest = []string{":method", "GET", ":scheme", "https", ":authority", "localhost", ":path", "/"}

// TestStrictValidation sends protocol violations from a raw QUIC client to
// our server and checks the error code the server answers with.
func TestStrictValidation(t *testing.T) {
	tp := newTLS(t)
	_, addr := ourServer(t, tp, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body) // so that violations in the body are seen
	}), nil)
	type step struct {
		uni  []byte // written on a new unidirectional stream (kept open)
		bidi []byte // written on a new request stream, then FIN
	}
	cases := []struct {
		name   string
		steps  []step
		code   h3.ErrorCode
		stream bool // a stream reset rather than a connection close
	}{
		{"control stream without SETTINGS first", []step{{uni: uni(h3.StreamTypeControl, frame(h3.FrameGoAway, []byte{0}))}}, h3.ErrCodeMissingSettings, false},
		{"second SETTINGS", []step{{uni: uni(h3.StreamTypeControl, settingsFrame, settingsFrame)}}, h3.ErrCodeFrameUnexpected, false},
		{"DATA on control stream", []step{{uni: uni(h3.StreamTypeControl, settingsFrame, frame(h3.FrameData, []byte("x")))}}, h3.ErrCodeFrameUnexpected, false},
		{"HTTP/2 frame type on control stream", []step{{uni: uni(h3.StreamTypeControl, settingsFrame, frame(0x06, nil))}}, h3.ErrCodeFrameUnexpected, false},
		{"HTTP/2 setting", []step{{uni: uni(h3.StreamTypeControl, frame(h3.FrameSettings, []byte{0x02, 0x00}))}}, h3.ErrCodeSettingsError, false},
		{"duplicate setting", []step{{uni: uni(h3.StreamTypeControl, frame(h3.FrameSettings, []byte{0x06, 0x01, 0x06, 0x02}))}}, h3.ErrCodeSettingsError, false},
		{"second control stream", []step{{uni: uni(h3.StreamTypeControl, settingsFrame)}, {uni: uni(h3.StreamTypeControl, settingsFrame)}}, h3.ErrCodeStreamCreationError, false},
		{"push stream from client", []step{{uni: uni(h3.StreamTypePush, []byte{0})}}, h3.ErrCodeStreamCreationError, false},
		{"GOAWAY from client with bad frame", []step{{uni: uni(h3.StreamTypeControl, settingsFrame, frame(h3.FrameGoAway, []byte{0x40}))}}, h3.ErrCodeFrameError, false},
		{"PRIORITY_UPDATE for non-request stream", []step{{uni: uni(h3.StreamTypeControl, settingsFrame, frame(h3.FramePriorityUpdate, append([]byte{0x02}, "u=1"...)))}}, h3.ErrCodeIDError, false},
		{"DATA before HEADERS", []step{{bidi: frame(h3.FrameData, []byte("x"))}}, h3.ErrCodeFrameUnexpected, false},
		{"SETTINGS on request stream", []step{{bidi: append(requestHeaders(goodRequest...), settingsFrame...)}}, h3.ErrCodeFrameUnexpected, false},
		{"HTTP/2 frame on request stream", []step{{bidi: frame(0x02, nil)}}, h3.ErrCodeFrameUnexpected, false},
		{"bad QPACK", []step{{bidi: frame(h3.FrameHeaders, []byte{0x00, 0x00, 0xff, 0x7f})}}, h3.ErrCodeQPACKDecompressionFailed, false},
		{"uppercase header", []step{{bidi: requestHeaders(append(goodRequest, "X-Upper", "1")...)}}, h3.ErrCodeMessageError, true},
		{"missing :path", []step{{bidi: requestHeaders(":method", "GET", ":scheme", "https", ":authority", "x")}}, h3.ErrCodeMessageError, true},
		{"connection-specific header", []step{{bidi: requestHeaders(append(goodRequest, "connection", "close")...)}}, h3.ErrCodeMessageError, true},
		{"pseudo after regular", []step{{bidi: requestHeaders(":method", "GET", "a", "b", ":path", "/", ":scheme", "https", ":authority", "x")}}, h3.ErrCodeMessageError, true},
		{":protocol on GET", []step{{bidi: requestHeaders(append(goodRequest, ":protocol", "x")...)}}, h3.ErrCodeMessageError, true},
		{"content-length mismatch", []step{{bidi: append(requestHeaders(append([]string{":method", "POST", ":scheme", "https", ":authority", "x", ":path", "/"}, "content-length", "5")...), frame(h3.FrameData, []byte("abc"))...)}}, h3.ErrCodeMessageError, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx := testCtx(t, 10*time.Second)
			tc, err := quicgoadapter.Dialer(quicConf)(ctx, addr, tp.client)
			if err != nil {
				t.Fatal(err)
			}
			defer tc.CloseWithError(0, "")
			var last transport.Stream
			for _, s := range c.steps {
				if s.uni != nil {
					str, err := tc.OpenUniStream(ctx)
					if err != nil {
						t.Fatal(err)
					}
					str.Write(s.uni)
				}
				if s.bidi != nil {
					str, err := tc.OpenStream(ctx)
					if err != nil {
						t.Fatal(err)
					}
					str.Write(s.bidi)
					str.Close()
					last = str
				}
			}
			if c.stream {
				buf := make([]byte, 100)
				_, err := last.Read(buf)
				var se *transport.StreamError
				if !errors.As(err, &se) || h3.ErrorCode(se.ErrorCode) != c.code {
					t.Fatalf("stream error %v, want %v", err, c.code)
				}
				if tc.Context().Err() != nil {
					t.Fatal("connection closed for a stream error")
				}
				return
			}
			select {
			case <-tc.Context().Done():
			case <-ctx.Done():
				t.Fatalf("connection not closed, want %v", c.code)
			}
			var ae *transport.ApplicationError
			if cause := context.Cause(tc.Context()); !errors.As(cause, &ae) || h3.ErrorCode(ae.ErrorCode) != c.code {
				t.Fatalf("closed with %v, want %v", cause, c.code)
			}
		})
	}
}

func TestErrorCodeNames(t *testing.T) {
	for code, name := range map[h3.ErrorCode]string{
		h3.ErrCodeNoError: "H3_NO_ERROR", h3.ErrCodeVersionFallback: "H3_VERSION_FALLBACK",
		h3.ErrCodeQPACKDecoderStreamError: "QPACK_DECODER_STREAM_ERROR", h3.ErrCodeDatagramError: "H3_DATAGRAM_ERROR",
		0x21 + 0x1f*3: "H3_GREASE(0x7e)",
	} {
		if code.String() != name {
			t.Errorf("%#x: %q", uint64(code), code.String())
		}
	}
}
