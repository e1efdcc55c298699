package journal_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/webhookverify/caddy-webhook-verify/internal/journaltest"
	"github.com/webhookverify/caddy-webhook-verify/journal"
)

// Bolt keeps every promise of journal.Store; a reopen is a new Bolt on the
// same file.
func TestBoltConformance(t *testing.T) {
	journaltest.Run(t, journaltest.Harness{
		Open: func(t *testing.T, now func() time.Time) func() journal.Store {
			// a directory OpenBolt has to make
			path := filepath.Join(t.TempDir(), "webhook", "deliveries.db")
			return func() journal.Store {
				b, err := journal.OpenBolt(path, journal.Options{Now: now})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { b.Close() })
				return b
			}
		},
		SmallChunks: journal.SmallChunks,
	})
}
