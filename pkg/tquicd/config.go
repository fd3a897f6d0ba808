package tquicd

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
)

// DaemonConfig is tquicd's configuration file (JSON).
type DaemonConfig struct {
	// Listen is the gRPC address, e.g. "127.0.0.1:7443".
	Listen string `json:"listen"`
	// TLSCert and TLSKey are the daemon's certificate (PEM files).
	TLSCert string `json:"tls_cert"`
	TLSKey  string `json:"tls_key"`
	// ClientCA, when set, requires client certificates signed by it.
	ClientCA string `json:"client_ca,omitempty"`
}

// LoadDaemonConfig reads a config file; unknown keys are errors, so typos
// do not silently fall back to defaults.
func LoadDaemonConfig(path string) (*DaemonConfig, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("tquicd: read config: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var c DaemonConfig
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("tquicd: parse %s: %w", path, err)
	}
	return &c, c.Validate()
}

// Validate checks that the config can serve.
func (c *DaemonConfig) Validate() error {
	if c.Listen == "" {
		return errors.New("tquicd: config: listen address missing")
	}
	if c.TLSCert == "" || c.TLSKey == "" {
		return errors.New("tquicd: config: tls_cert and tls_key are required (tquicd serves TLS only)")
	}
	return nil
}
