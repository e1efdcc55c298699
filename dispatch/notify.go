package dispatch

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/webhookverify/caddy-webhook-verify/journal"
)

// Notice is the JSON a route's Notify URL receives when a target goes
// dead. Text is one line for people, which is all a Slack incoming webhook
// needs; the other fields are for programs.
type Notice struct {
	Text        string `json:"text"`
	ID          string `json:"id"`
	Route       string `json:"route"`
	Provider    string `json:"provider"`
	Event       string `json:"event"`
	Destination string `json:"destination"`
	Attempts    int    `json:"attempts"`
	LastStatus  int    `json:"last_status"`
	LastError   string `json:"last_error"`
}

func noticeFor(info AttemptInfo) Notice {
	last := info.Error
	if info.Status != 0 {
		last = strings.TrimSpace(fmt.Sprintf("HTTP %d %s", info.Status, info.Error))
	}
	return Notice{
		Text: fmt.Sprintf("Webhook %s (%s %s) is dead at %s after %d attempts; last: %.200s",
			info.ID, info.Provider, info.Event, info.Destination, info.Attempt, last),
		ID: info.ID, Route: info.Route, Provider: info.Provider, Event: info.Event,
		Destination: info.Destination, Attempts: info.Attempt, LastStatus: info.Status, LastError: info.Error,
	}
}

// notify posts the notice about a dead target in the background, signed
// like deliveries (with its own Webhook-Id: it is a message of its own).
// It is sent once; a failure goes to the observer, and nothing waits for
// it but Stop.
func (d *Dispatcher) notify(rt *route, info AttemptInfo) {
	d.work.Add(1)
	go func() {
		defer d.work.Done()
		if err := d.sendNotice(rt, noticeFor(info)); err != nil {
			d.obs.NotifyFailed(info, err)
		}
	}()
}

func (d *Dispatcher) sendNotice(rt *route, n Notice) error {
	body, err := json.Marshal(n)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(d.ctx, NotifyTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, rt.Notify, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	now := d.now()
	signHeader(req.Header, rt.key, journal.NewID(now), now, body)
	resp, err := d.client.Do(req)
	if err != nil {
		return fmt.Errorf("notify: %s", transportError(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("notify: HTTP %d %s", resp.StatusCode, readText(resp.Body))
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, drainResponse))
	return nil
}
