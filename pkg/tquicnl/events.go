package tquicnl

import (
	"context"
	"fmt"
	"time"

	"github.com/mdlayher/genetlink"

	"github.com/tquic/tquic/pkg/uapi"
)

// Event is one notification from the module's "events" multicast group.
type Event struct {
	// Kind names the event, e.g. "config".
	Kind string `json:"kind"`
	// Config is the namespace's new config for "config" events.
	Config *Config `json:"config,omitempty"`
	// Conn is the connection of "conn_up", "conn_down", "key_update",
	// "path_change" and "version_negotiation" events.
	Conn *Conn `json:"conn,omitempty"`
}

// Watch joins the events group and calls fn for each event until ctx ends
// or fn returns an error; joined, when not nil, runs once the group is
// joined, so no later event is missed. Use a dedicated Client: the socket
// then only carries events.
func (c *Client) Watch(ctx context.Context, joined func(), fn func(Event) error) error {
	var groupID uint32
	for _, g := range c.family.Groups {
		if g.Name == uapi.GenlMcgrpEvents {
			groupID = g.ID
		}
	}
	if groupID == 0 {
		return fmt.Errorf("tquicnl: family %q has no %q group", uapi.GenlName, uapi.GenlMcgrpEvents)
	}
	if err := c.conn.JoinGroup(groupID); err != nil {
		return fmt.Errorf("tquicnl: join events group: %w", err)
	}
	defer c.conn.LeaveGroup(groupID)
	if err := c.conn.SetReadDeadline(time.Time{}); err != nil {
		return fmt.Errorf("tquicnl: clear deadline: %w", err)
	}
	stop := context.AfterFunc(ctx, func() { c.conn.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	if joined != nil {
		joined()
	}
	for {
		msgs, _, err := c.conn.Receive()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("tquicnl: receive events: %w", err)
		}
		for _, m := range msgs {
			ev, ok, err := parseEvent(m)
			if err != nil {
				return fmt.Errorf("tquicnl: event: %w", err)
			}
			if !ok {
				continue // a newer module's event this client does not know
			}
			if err := fn(ev); err != nil {
				return err
			}
		}
	}
}

// parseEvent decodes one message of the events group; ok is false for
// commands this client does not know.
func parseEvent(m genetlink.Message) (ev Event, ok bool, err error) {
	switch m.Header.Command {
	case uapi.CmdEventConfig:
		cfg, err := parseConfigMessage(m.Data)
		if err != nil {
			return Event{}, false, err
		}
		return Event{Kind: "config", Config: cfg}, true, nil
	case uapi.CmdEventConn:
		ev, err := parseConnEvent(m)
		if err != nil {
			return Event{}, false, err
		}
		return ev, true, nil
	}
	return Event{}, false, nil
}

// groupID finds a multicast group of the family.
func (c *Client) groupID(name string) (uint32, error) {
	for _, g := range c.family.Groups {
		if g.Name == name {
			return g.ID, nil
		}
	}
	return 0, fmt.Errorf("tquicnl: family %q has no %q group", uapi.GenlName, name)
}
