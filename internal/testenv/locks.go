package testenv

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// lockWaitersSQL counts the other backends of the pool's database waiting on a lock.
const lockWaitersSQL = `SELECT count(*) FROM pg_stat_activity
WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()`

// AwaitLockWaiters waits until at least n other sessions of pool's database are blocked
// on a lock (pg_stat_activity), so a test can interleave transactions deterministically
// instead of sleeping; it fails the test after 10 s, saying what never blocked.
func AwaitLockWaiters(t testing.TB, pool *pgxpool.Pool, n int, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	var waiting int
	for {
		err := pool.QueryRow(context.Background(), lockWaitersSQL).Scan(&waiting)
		if err == nil && waiting >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("testenv: %s: %d of %d sessions waiting on a lock after 10s (last error: %v)", what, waiting, n, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
