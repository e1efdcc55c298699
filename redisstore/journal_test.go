package redisstore

import (
	"testing"
	"time"

	"github.com/webhookverify/caddy-webhook-verify/internal/journaltest"
	"github.com/webhookverify/caddy-webhook-verify/internal/redistest"
	"github.com/webhookverify/caddy-webhook-verify/journal"
)

// The Redis journal keeps every promise journal.Bolt does; a reopen is a
// new client (a restarted instance, or another one) on the same server.
func TestJournalConformance(t *testing.T) {
	journaltest.Run(t, journaltest.Harness{
		Open: func(t *testing.T, now func() time.Time) func() journal.Store {
			srv := redistest.Start(t, redistest.Options{})
			return func() journal.Store { return newClient(t, srv, now).Journal() }
		},
		SmallChunks: func() func() {
			replay, prune := replayChunk, pruneChunk
			replayChunk, pruneChunk = 2, 2
			return func() { replayChunk, pruneChunk = replay, prune }
		},
	})
}
