package h3

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tquic/tquic/pkg/capsule"
	"github.com/tquic/tquic/pkg/qpack"
	"github.com/tquic/tquic/pkg/transport"
)

// StreamTaker is implemented by the server's http.ResponseWriter. An
// extended CONNECT handler calls TakeStream after setting the response
// status: the response header is sent and the request stream is the
// handler's from then on (the server does not close it when the handler
// returns).
type StreamTaker interface {
	TakeStream() (*Stream, error)
	// RequestStreamID is the request stream's ID, known before the
	// stream is taken (an extended CONNECT's session ID).
	RequestStreamID() transport.StreamID
}

// Response body buffering: the handler's writes collect in a pooled
// buffer whose first respHeadroom bytes stay free, so that the HEADERS
// frame and the DATA frame header can be placed in front of the body and
// a small response leaves in a single stream write.
const (
	respHeadroom = 512
	respBufSize  = 16 << 10
)

var respBufPool = sync.Pool{New: func() any {
	b := make([]byte, respHeadroom, respHeadroom+respBufSize)
	return &b
}}

// responseWriter is the server's http.ResponseWriter, for responses on
// request streams and for pushed responses on push streams.
type responseWriter struct {
	sc     *serverConn
	str    transport.SendStream // where the response goes
	bidi   transport.Stream     // the request stream; nil for a pushed response
	id     uint64               // QUIC stream ID of str
	req    *http.Request
	header http.Header
	body   *bodyReader // nil for a pushed response
	push   *serverPush // set for a pushed response
	ss     schedStream
	dw     dataWriter

	buf     []byte // respHeadroom free bytes, then the buffered body
	bufp    *[]byte
	status  int
	sent    bool // HEADERS sent
	written int64
	length  int64 // declared Content-Length, -1 if none
	taken   bool
	err     error
}

var (
	_ http.ResponseWriter = (*responseWriter)(nil)
	_ http.Flusher        = (*responseWriter)(nil)
	_ http.Pusher         = (*responseWriter)(nil)
	_ StreamTaker         = (*responseWriter)(nil)
)

func (sc *serverConn) newResponseWriter(str transport.SendStream, bidi transport.Stream, req *http.Request, body *bodyReader, ctx context.Context, p Priority) *responseWriter {
	id := uint64(str.StreamID())
	bufp := respBufPool.Get().(*[]byte)
	w := &responseWriter{
		sc: sc, str: str, bidi: bidi, id: id, req: req, header: http.Header{}, body: body,
		ss:   schedStream{id: id, prio: p},
		buf:  (*bufp)[:respHeadroom],
		bufp: bufp,
	}
	w.dw = dataWriter{str: str, sched: sc.sched, ss: &w.ss, ctx: ctx}
	return w
}

// release returns the body buffer once the handler has returned: the
// ResponseWriter is dead.
func (w *responseWriter) release() {
	if w.bufp != nil {
		*w.bufp = w.buf[:respHeadroom]
		respBufPool.Put(w.bufp)
		w.bufp, w.buf = nil, nil
	}
}

// abort resets the response (and the request stream's receiving side).
func (w *responseWriter) abort(code ErrorCode) {
	w.str.CancelWrite(transport.ErrorCode(code))
	if w.bidi != nil {
		w.bidi.CancelRead(transport.ErrorCode(code))
	}
}

func (w *responseWriter) Header() http.Header { return w.header }

func (w *responseWriter) WriteHeader(code int) {
	if w.status != 0 || w.taken {
		return
	}
	if code < 100 || code > 999 {
		panic(fmt.Sprintf("h3: invalid status code %d", code))
	}
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		// Informational response (e.g. 103 Early Hints): sent at once.
		w.writeInformational(code)
		return
	}
	w.status = code
	w.length = -1
	if cl := w.header.Get("Content-Length"); cl != "" {
		if n, err := strconv.ParseInt(cl, 10, 64); err == nil && n >= 0 {
			w.length = n
		}
	}
}

func (w *responseWriter) Write(p []byte) (int, error) {
	if w.taken {
		return 0, errors.New("h3: Write after TakeStream")
	}
	if w.buf == nil {
		return 0, errors.New("h3: Write after the handler returned")
	}
	if w.status == 0 {
		if w.header.Get("Content-Type") == "" && w.header.Get("Content-Encoding") == "" {
			w.header.Set("Content-Type", http.DetectContentType(p))
		}
		w.WriteHeader(http.StatusOK)
	}
	if !bodyAllowed(w.status) || w.req.Method == http.MethodHead {
		return 0, http.ErrBodyNotAllowed
	}
	if w.length >= 0 && w.written+int64(len(p)) > w.length {
		return 0, http.ErrContentLength
	}
	if w.err != nil {
		return 0, w.err
	}
	w.written += int64(len(p))
	if len(p) <= cap(w.buf)-len(w.buf) {
		w.buf = append(w.buf, p...)
		return len(p), nil
	}
	if err := w.flushBuffered(); err != nil {
		return 0, err
	}
	if len(p) <= cap(w.buf)-len(w.buf) {
		w.buf = append(w.buf, p...)
		return len(p), nil
	}
	// Larger than the buffer: straight out in DATA frames.
	n, err := w.dw.Write(p)
	if err != nil {
		w.err = err
	}
	return n, err
}

func bodyAllowed(status int) bool {
	return status != http.StatusNoContent && status != http.StatusNotModified && status >= 200
}

// statusStrings holds the :status values of the common status codes.
var statusStrings = func() (s [600]string) {
	for i := 100; i < len(s); i++ {
		s[i] = strconv.Itoa(i)
	}
	return s
}()

func statusString(code int) string {
	if code >= 100 && code < len(statusStrings) {
		return statusStrings[code]
	}
	return strconv.Itoa(code)
}

type dateEntry struct {
	sec  int64
	text string
}

var dateCache atomic.Pointer[dateEntry]

// httpDate returns the Date header value for now, formatted once a second.
func httpDate() string {
	now := time.Now()
	sec := now.Unix()
	if e := dateCache.Load(); e != nil && e.sec == sec {
		return e.text
	}
	e := &dateEntry{sec: sec, text: now.UTC().Format(http.TimeFormat)}
	dateCache.Store(e)
	return e.text
}

// responseFields builds the response header section; contentLength, when
// not negative, is added as content-length.
func (w *responseWriter) responseFields(status int, informational bool, contentLength int64) []qpack.HeaderField {
	fields := make([]qpack.HeaderField, 0, len(w.header)+3)
	fields = append(fields, qpack.HeaderField{Name: ":status", Value: statusString(status)})
	if _, ok := w.header["Date"]; !ok && !informational {
		fields = append(fields, qpack.HeaderField{Name: "date", Value: httpDate()})
	}
	fields = appendHeaderFields(fields, w.header, nil)
	if contentLength >= 0 {
		fields = append(fields, qpack.HeaderField{Name: "content-length", Value: strconv.FormatInt(contentLength, 10)})
	}
	return fields
}

func (w *responseWriter) writeInformational(status int) {
	frame, err := w.sc.headersFrame(w.id, w.responseFields(status, true, -1), FrameHeaders, nil)
	if err == nil {
		_, err = w.str.Write(frame)
		err = convertTransportError(err)
	}
	if err != nil {
		w.err = err
	}
}

// sendHead sends the HEADERS frame and the buffered body (as one DATA
// frame) in a single write. With contentLength not negative, it is
// announced as the content-length.
func (w *responseWriter) sendHead(contentLength int64) error {
	if w.err != nil {
		return w.err
	}
	sec, err := w.sc.encodeSection(w.id, w.responseFields(w.status, false, contentLength))
	if err != nil {
		w.err = err
		return err
	}
	w.sent = true
	body := w.buf[respHeadroom:]
	n := capsule.VarintLen(FrameHeaders) + capsule.VarintLen(uint64(len(sec))) + len(sec)
	if len(body) > 0 {
		n += capsule.VarintLen(FrameData) + capsule.VarintLen(uint64(len(body)))
	}
	var out []byte
	if n <= respHeadroom {
		// In front of the body, in the headroom: no copy of the body.
		start := respHeadroom - n
		b := appendFrameHeader(w.buf[start:start], FrameHeaders, uint64(len(sec)))
		b = append(b, sec...)
		if len(body) > 0 {
			appendFrameHeader(b, FrameData, uint64(len(body)))
		}
		out = w.buf[start:]
	} else {
		out = appendFrameHeader(make([]byte, 0, n+len(body)), FrameHeaders, uint64(len(sec)))
		out = append(out, sec...)
		if len(body) > 0 {
			out = appendFrameHeader(out, FrameData, uint64(len(body)))
			out = append(out, body...)
		}
	}
	w.buf = w.buf[:respHeadroom]
	if len(body) == 0 {
		// A header alone does not wait for a turn of the scheduler.
		_, err = w.str.Write(out)
		err = convertTransportError(err)
	} else {
		err = w.dw.writeRaw(out)
	}
	if err != nil {
		w.err = err
	}
	return err
}

// flushBuffered sends the header if it was not sent yet and the buffered
// body.
func (w *responseWriter) flushBuffered() error {
	if w.err != nil {
		return w.err
	}
	if !w.sent {
		return w.sendHead(-1)
	}
	body := w.buf[respHeadroom:]
	if len(body) == 0 {
		return nil
	}
	start := respHeadroom - capsule.VarintLen(FrameData) - capsule.VarintLen(uint64(len(body)))
	appendFrameHeader(w.buf[start:start], FrameData, uint64(len(body)))
	err := w.dw.writeRaw(w.buf[start:])
	w.buf = w.buf[:respHeadroom]
	if err != nil {
		w.err = err
	}
	return err
}

// Flush sends the header and any buffered body.
func (w *responseWriter) Flush() {
	w.FlushError()
}

// FlushError is Flush reporting errors (used by http.ResponseController).
func (w *responseWriter) FlushError() error {
	if w.taken {
		return nil
	}
	if w.buf == nil {
		return errors.New("h3: Flush after the handler returned")
	}
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if err := w.flushBuffered(); err != nil {
		return err
	}
	return w.err
}

// finish completes the response after the handler returned.
func (w *responseWriter) finish() error {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if !w.sent {
		contentLength := int64(-1)
		if w.header.Get("Content-Length") == "" && w.header.Get("Trailer") == "" &&
			bodyAllowed(w.status) && w.req.Method != http.MethodHead {
			// The whole body is buffered: announce its length.
			contentLength = int64(len(w.buf) - respHeadroom)
		}
		if err := w.sendHead(contentLength); err != nil {
			return err
		}
	} else if err := w.flushBuffered(); err != nil {
		return err
	}
	if w.length >= 0 && w.written < w.length && w.req.Method != http.MethodHead {
		return errStream(ErrCodeInternalError, "handler wrote %d of %d declared bytes", w.written, w.length)
	}
	if t := w.trailers(); len(t) > 0 {
		frame, err := w.sc.headersFrame(w.id, t, FrameHeaders, nil)
		if err != nil {
			return err
		}
		if _, err := w.str.Write(frame); err != nil {
			return convertTransportError(err)
		}
	}
	return convertTransportError(w.str.Close())
}

// trailers collects the trailer fields: those declared in the Trailer
// header and those set with the http.TrailerPrefix convention.
func (w *responseWriter) trailers() []qpack.HeaderField {
	declared := w.header["Trailer"]
	prefixed := false
	for k := range w.header {
		if strings.HasPrefix(k, http.TrailerPrefix) {
			prefixed = true
			break
		}
	}
	if len(declared) == 0 && !prefixed {
		return nil
	}
	t := http.Header{}
	for k := range declaredTrailers(declared) {
		if vs, ok := w.header[k]; ok {
			t[k] = vs
		}
	}
	for k, vs := range w.header {
		if strings.HasPrefix(k, http.TrailerPrefix) {
			t[strings.TrimPrefix(k, http.TrailerPrefix)] = vs
		}
	}
	return appendHeaderFields(nil, t, nil)
}

// TakeStream implements StreamTaker.
func (w *responseWriter) RequestStreamID() transport.StreamID {
	if w.bidi == nil {
		return transport.StreamID(w.id)
	}
	return w.bidi.StreamID()
}

func (w *responseWriter) TakeStream() (*Stream, error) {
	if w.taken {
		return nil, errors.New("h3: stream already taken")
	}
	if w.bidi == nil {
		return nil, errors.New("h3: a pushed response has no request stream to take")
	}
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if err := w.flushBuffered(); err != nil {
		return nil, err
	}
	w.taken = true
	dw := &dataWriter{str: w.bidi, ctx: w.sc.tc.Context()}
	return newStream(w.sc.Conn, w.bidi, w.body, dw), nil
}
