// Command tquicd serves the TQUIC management API over gRPC with TLS or
// mutual TLS, for remote and fleet management (tquicctl --remote).
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/urfave/cli/v2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/tquic/tquic/pkg/tquicd"
	"github.com/tquic/tquic/pkg/tquicdpb"
	"github.com/tquic/tquic/pkg/tquicnl"
)

func main() {
	app := &cli.App{
		Name:  "tquicd",
		Usage: "serve the TQUIC management API over gRPC (TLS, optionally mutual)",
		UsageText: `tquicd --config /etc/tquic/tquicd.json
   tquicd --listen 127.0.0.1:7443 --tls-cert server.pem --tls-key server.key --client-ca ca.pem`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "config", Usage: "JSON config file (flags override it)"},
			&cli.StringFlag{Name: "listen", Usage: "gRPC listen address"},
			&cli.StringFlag{Name: "tls-cert", Usage: "server certificate (PEM)"},
			&cli.StringFlag{Name: "tls-key", Usage: "server key (PEM)"},
			&cli.StringFlag{Name: "client-ca", Usage: "require client certificates signed by this CA (PEM)"},
		},
		Action: run,
	}
	if err := app.Run(os.Args); err != nil {
		fmt.Fprintln(os.Stderr, "tquicd:", err)
		os.Exit(1)
	}
}

func run(c *cli.Context) error {
	if c.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", c.Args().First())
	}
	cfg := &tquicd.DaemonConfig{}
	if path := c.String("config"); path != "" {
		var err error
		if cfg, err = tquicd.LoadDaemonConfig(path); err != nil {
			return err
		}
	}
	for flag, field := range map[string]*string{
		"listen": &cfg.Listen, "tls-cert": &cfg.TLSCert, "tls-key": &cfg.TLSKey, "client-ca": &cfg.ClientCA,
	} {
		if c.IsSet(flag) {
			*field = c.String(flag)
		}
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	tlsConfig, err := tquicd.ServerTLS(cfg.TLSCert, cfg.TLSKey, cfg.ClientCA)
	if err != nil {
		return err
	}
	lis, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := grpc.NewServer(grpc.Creds(credentials.NewTLS(tlsConfig)))
	tquicdpb.RegisterTquicServer(srv, &tquicd.Server{
		Dial: func() (tquicnl.Controller, error) { return tquicnl.Dial() },
	})
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		srv.GracefulStop()
	}()
	mtls := "off"
	if cfg.ClientCA != "" {
		mtls = "required"
	}
	log.Printf("tquicd: serving on %s (mutual TLS %s)", lis.Addr(), mtls)
	if err := srv.Serve(lis); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}
