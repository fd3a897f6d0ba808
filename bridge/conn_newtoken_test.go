package bridge

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/tquic/tquic/internal/quicgoadapter"
)

// signalTokenStore is a bridge TokenStore reporting every token stored.
type signalTokenStore struct {
	TokenStore
	put chan struct{}
}

func (s *signalTokenStore) Put(key string, token []byte) {
	s.TokenStore.Put(key, token)
	signal(s.put)
}

// quicGoTokenStore is a quic-go TokenStore reporting every token stored.
type quicGoTokenStore struct {
	quic.TokenStore
	put chan struct{}
}

func (s *quicGoTokenStore) Put(key string, token *quic.ClientToken) {
	s.TokenStore.Put(key, token)
	if token != nil {
		signal(s.put)
	}
}

func waitSignal(t *testing.T, ch chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatalf("no %s", what)
	}
}

// TestInteropConnNewTokenBridgeClient: a quic-go server that validates
// every new address (VerifySourceAddress) answers the bridge's first
// connection with a Retry and sends a NEW_TOKEN after the handshake; the
// bridge keeps the token by server name and its next connection, from
// another port, carries it in its first Initial: no Retry.
func TestInteropConnNewTokenBridgeClient(t *testing.T) {
	stls, ctls := interopTLS(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	udp, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	tr := &quic.Transport{Conn: udp, VerifySourceAddress: func(net.Addr) bool { return true }}
	defer tr.Close()
	ln, err := tr.Listen(stls, &quic.Config{MaxIdleTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept(ctx)
			if err != nil {
				return
			}
			go echoServe(ctx, quicgoadapter.Wrap(c))
		}
	}()
	store := &signalTokenStore{TokenStore: NewTokenStore(2), put: make(chan struct{}, 4)}
	cfg := &Config{TokenStore: store}

	c1, err := Dial(ctx, udp.LocalAddr().String(), ctls, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !c1.usedRetry() {
		t.Fatal("first connection: no Retry")
	}
	waitSignal(t, store.put, "NEW_TOKEN stored")
	closeAndWaitFreed(t, c1)

	c2, err := Dial(ctx, udp.LocalAddr().String(), ctls, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer closeAndWaitFreed(t, c2)
	if c2.usedRetry() {
		t.Fatal("second connection went through a Retry: the token was not used")
	}
	if err := echoRoundTrip(ctx, c2, 10000); err != nil {
		t.Fatal(err)
	}
}

// TestInteropConnNewTokenBridgeServer: a bridge server requiring address
// validation sends a NEW_TOKEN after the handshake; quic-go's next
// connection, from another port, carries it and is accepted without a
// Retry.
func TestInteropConnNewTokenBridgeServer(t *testing.T) {
	stls, ctls := interopTLS(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ln, conns := bridgeEchoListener(t, ctx, stls, &Config{RequireAddressValidation: true})
	store := &quicGoTokenStore{TokenStore: quic.NewLRUTokenStore(4, 2), put: make(chan struct{}, 4)}
	qcfg := &quic.Config{TokenStore: store, MaxIdleTimeout: 10 * time.Second}

	q1, err := quic.DialAddr(ctx, ln.Addr().String(), ctls, qcfg)
	if err != nil {
		t.Fatal(err)
	}
	b1 := <-conns
	if !b1.usedRetry() {
		t.Fatal("first connection: no Retry")
	}
	waitSignal(t, store.put, "NEW_TOKEN stored by quic-go")
	_ = q1.CloseWithError(0, "")

	q2, err := quic.DialAddr(ctx, ln.Addr().String(), ctls, qcfg)
	if err != nil {
		t.Fatal(err)
	}
	defer q2.CloseWithError(0, "")
	b2 := <-conns
	if b2.usedRetry() {
		t.Fatal("second connection went through a Retry: the token was not accepted")
	}
	if err := echoRoundTrip(ctx, quicgoadapter.Wrap(q2), 10000); err != nil {
		t.Fatal(err)
	}
}
