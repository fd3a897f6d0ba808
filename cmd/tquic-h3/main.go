// Command tquic-h3 serves files over HTTP/3 and fetches them, with TQUIC's
// HTTP/3 stack (pkg/h3) over the kernel's QUIC sockets (sockapi) or, for
// comparison, over quic-go. It is the HTTP/3 part of make demo.
//
//	tquic-h3 server --listen 10.0.0.2:4433 --cert server.pem --key server.key --dir /srv/files
//	tquic-h3 get --ca ca.pem --server-name localhost https://10.0.0.2:4433/big.bin -o big.bin
//
// get prints the response status, the body's size and SHA-256 and the
// elapsed time; it fails when the status is not 2xx or, with
// --want-sha256, when the body's hash differs.
package main

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/urfave/cli/v2"

	"github.com/tquic/tquic/internal/quicgoadapter"
	"github.com/tquic/tquic/pkg/h3"
	"github.com/tquic/tquic/pkg/transport"
	"github.com/tquic/tquic/sockapi"
)

// Transports the HTTP/3 stack can run over.
const (
	implKernel = "kernel"
	implQUICGo = "quic-go"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := newApp(os.Stdout, os.Stderr).RunContext(ctx, urlLast(os.Args)); err != nil {
		fmt.Fprintln(os.Stderr, "tquic-h3:", err)
		os.Exit(1)
	}
}

// urlLast moves URL arguments after the flags: urfave/cli stops parsing
// flags at the first positional argument, and "get URL -o FILE" is the
// natural order to type.
func urlLast(args []string) []string {
	if len(args) == 0 {
		return args
	}
	out := []string{args[0]}
	var urls []string
	for _, a := range args[1:] {
		if strings.HasPrefix(a, "https://") || strings.HasPrefix(a, "http://") {
			urls = append(urls, a)
			continue
		}
		out = append(out, a)
	}
	return append(out, urls...)
}

func newApp(stdout, stderr io.Writer) *cli.App {
	implFlag := &cli.StringFlag{Name: "impl", Value: implKernel,
		Usage: "QUIC transport under HTTP/3: kernel (IPPROTO_QUIC via sockapi) or quic-go"}
	return &cli.App{
		Name:      "tquic-h3",
		Usage:     "serve and fetch files over HTTP/3 (pkg/h3) on kernel QUIC sockets",
		Writer:    stdout,
		ErrWriter: stderr,
		Commands: []*cli.Command{
			{
				Name:  "server",
				Usage: "serve the files of a directory until interrupted",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "listen", Value: "127.0.0.1:4433", Usage: "UDP address to listen on"},
					&cli.StringFlag{Name: "cert", Required: true, Usage: "server certificate (PEM)"},
					&cli.StringFlag{Name: "key", Required: true, Usage: "server key (PEM)"},
					&cli.StringFlag{Name: "dir", Value: ".", Usage: "directory to serve"},
					implFlag,
				},
				Action: func(c *cli.Context) error {
					return runServer(c.Context, c, stdout, log.New(stderr, "tquic-h3: ", log.LstdFlags))
				},
			},
			{
				Name:      "get",
				Usage:     "fetch a URL and report status, size, SHA-256 and elapsed time",
				ArgsUsage: "https://HOST:PORT/PATH",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "ca", Usage: "CA certificate the server's chains to (PEM); default: the system roots"},
					&cli.StringFlag{Name: "server-name", Usage: "name to verify in the server's certificate (default: the URL's host)"},
					&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write the body to this file (default: discard it)"},
					&cli.StringFlag{Name: "want-sha256", Usage: "fail unless the body's SHA-256 is this (hex)"},
					&cli.DurationFlag{Name: "timeout", Value: 5 * time.Minute, Usage: "bound on the whole request"},
					&cli.BoolFlag{Name: "json", Usage: "print the result as JSON"},
					implFlag,
				},
				Action: func(c *cli.Context) error { return runGet(c.Context, c, stdout) },
			},
		},
	}
}

// ---- server ----

func runServer(ctx context.Context, c *cli.Context, stdout io.Writer, logger *log.Logger) error {
	cert, err := tls.LoadX509KeyPair(c.String("cert"), c.String("key"))
	if err != nil {
		return fmt.Errorf("load certificate: %w", err)
	}
	dir := c.String("dir")
	if fi, err := os.Stat(dir); err != nil {
		return fmt.Errorf("--dir: %w", err)
	} else if !fi.IsDir() {
		return fmt.Errorf("--dir: %s is not a directory", dir)
	}
	tlsConf := &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{h3.NextProtoH3}}
	ln, err := listen(c.String("impl"), c.String("listen"), tlsConf)
	if err != nil {
		return err
	}
	srv := &h3.Server{Handler: logRequests(http.FileServer(http.Dir(dir)), logger)}
	srv.Config.Logger = logger
	fmt.Fprintf(stdout, "listening %s %s serving %s\n", c.String("impl"), ln.Addr(), dir)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// listen opens a QUIC listener for HTTP/3 over impl.
func listen(impl, addr string, tlsConf *tls.Config) (transport.Listener, error) {
	switch impl {
	case implKernel:
		ln, err := sockapi.Listen(addr, tlsConf, &sockapi.Config{MaxIncomingStreams: 1000, MaxIncomingUniStreams: 100})
		if err != nil {
			return nil, fmt.Errorf("listen on %s (kernel): %w", addr, err)
		}
		return ln, nil
	case implQUICGo:
		ln, err := quicgoadapter.Listen(addr, tlsConf, &quic.Config{MaxIncomingStreams: 1000})
		if err != nil {
			return nil, fmt.Errorf("listen on %s (quic-go): %w", addr, err)
		}
		return ln, nil
	}
	return nil, fmt.Errorf("unknown --impl %q (want %s or %s)", impl, implKernel, implQUICGo)
}

// statusRecorder remembers the status and size of a response for the log.
type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(p)
	r.bytes += int64(n)
	return n, err
}

// ReadFrom hides the ResponseWriter's ReadFrom (if any) so that every byte
// passes through Write and is counted.
func (r *statusRecorder) ReadFrom(src io.Reader) (int64, error) {
	return io.Copy(struct{ io.Writer }{r}, src)
}

func logRequests(h http.Handler, logger *log.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		h.ServeHTTP(rec, req)
		logger.Printf("%s %s %s from %s: %d, %d bytes in %v", req.Proto, req.Method, req.URL.Path,
			req.RemoteAddr, rec.status, rec.bytes, time.Since(start).Round(time.Millisecond))
	})
}

// ---- get ----

// result is what get reports.
type result struct {
	URL       string  `json:"url"`
	Impl      string  `json:"impl"`
	Proto     string  `json:"proto"`
	Status    int     `json:"status"`
	Bytes     int64   `json:"bytes"`
	SHA256    string  `json:"sha256"`
	ElapsedS  float64 `json:"elapsed_s"`
	MBps      float64 `json:"mb_per_s"`
	LocalAddr string  `json:"local_addr,omitempty"`
}

func runGet(ctx context.Context, c *cli.Context, stdout io.Writer) error {
	if c.NArg() != 1 {
		return errors.New("get takes one argument, the https:// URL")
	}
	rawURL := c.Args().First()
	tlsConf := &tls.Config{ServerName: c.String("server-name")}
	if ca := c.String("ca"); ca != "" {
		pem, err := os.ReadFile(ca)
		if err != nil {
			return fmt.Errorf("--ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("--ca: no certificate in %s", ca)
		}
		tlsConf.RootCAs = pool
	}
	impl := c.String("impl")
	dial, err := dialer(impl)
	if err != nil {
		return err
	}
	var out io.Writer = io.Discard
	if name := c.String("output"); name != "" {
		f, err := os.Create(name)
		if err != nil {
			return fmt.Errorf("--output: %w", err)
		}
		defer f.Close()
		out = f
	}
	ctx, cancel := context.WithTimeout(ctx, c.Duration("timeout"))
	defer cancel()

	var local string
	client := &h3.Client{TLSClientConfig: tlsConf, Dial: func(ctx context.Context, addr string, tc *tls.Config) (transport.Connection, error) {
		conn, err := dial(ctx, addr, tc)
		if err == nil {
			local = conn.State().LocalAddr.String()
		}
		return conn, err
	}}
	defer client.Close()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return fmt.Errorf("request: %w", err)
	}
	start := time.Now()
	resp, err := client.RoundTrip(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", rawURL, err)
	}
	defer resp.Body.Close()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(out, h), resp.Body)
	if err != nil {
		return fmt.Errorf("GET %s: body after %d bytes: %w", rawURL, n, err)
	}
	elapsed := time.Since(start)
	if f, ok := out.(*os.File); ok {
		if err := f.Close(); err != nil {
			return fmt.Errorf("--output: %w", err)
		}
	}
	r := result{URL: rawURL, Impl: impl, Proto: resp.Proto, Status: resp.StatusCode, Bytes: n,
		SHA256: hex.EncodeToString(h.Sum(nil)), ElapsedS: elapsed.Seconds(), LocalAddr: local}
	if elapsed > 0 {
		r.MBps = float64(n) / 1e6 / elapsed.Seconds()
	}
	if c.Bool("json") {
		b, err := json.Marshal(r)
		if err != nil {
			return fmt.Errorf("encode result: %w", err)
		}
		fmt.Fprintf(stdout, "%s\n", b)
	} else {
		fmt.Fprintf(stdout, "GET %s over %s (%s, local %s)\nstatus %s\nbytes %d\nsha256 %s\nelapsed %v (%.1f MB/s)\n",
			rawURL, resp.Proto, impl, local, resp.Status, n, r.SHA256, elapsed.Round(time.Millisecond), r.MBps)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("GET %s: status %s", rawURL, resp.Status)
	}
	if want := c.String("want-sha256"); want != "" && !strings.EqualFold(want, r.SHA256) {
		return fmt.Errorf("GET %s: body sha256 %s, want %s", rawURL, r.SHA256, want)
	}
	return nil
}

// dialer opens QUIC connections for HTTP/3 over impl.
func dialer(impl string) (transport.Dialer, error) {
	switch impl {
	case implKernel:
		return func(ctx context.Context, addr string, tlsConf *tls.Config) (transport.Connection, error) {
			conn, err := sockapi.Dial(ctx, addr, tlsConf, &sockapi.Config{})
			if err != nil {
				return nil, fmt.Errorf("kernel dial: %w", err)
			}
			return conn, nil
		}, nil
	case implQUICGo:
		return quicgoadapter.Dialer(&quic.Config{}), nil
	}
	return nil, fmt.Errorf("unknown --impl %q (want %s or %s)", impl, implKernel, implQUICGo)
}
