package app

import (
	"context"
	"strings"
	"testing"

	"github.com/inviter/inviter/internal/storetest"
	"github.com/inviter/inviter/queue"
)

// TestReadinessNeedsRiversTablesToo: a database with inviter's tables but
// not River's is not ready; once both are migrated it is.
func TestReadinessNeedsRiversTablesToo(t *testing.T) {
	for _, b := range storetest.Backends() {
		t.Run(string(b.Name), func(t *testing.T) {
			ctx := context.Background()
			db := b.Open(t) // inviter's tables only
			r := readiness{db: db}
			if err := r.Ready(ctx); err == nil || !strings.Contains(err.Error(), "inviter migrate") {
				t.Fatalf("without River's tables: Ready = %v, want not migrated (run inviter migrate)", err)
			}
			if err := queue.Migrate(ctx, db); err != nil {
				t.Fatal(err)
			}
			if err := r.Ready(ctx); err != nil {
				t.Fatalf("migrated: Ready = %v", err)
			}
		})
	}
}
