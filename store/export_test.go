package store

import "context"

// ExecAtCommit queues query to be sent with tx's COMMIT on PostgreSQL, its
// error failing the commit as it is.
func ExecAtCommit(ctx context.Context, tx *Tx, query string, args ...any) error {
	return tx.pg.execAtCommit(ctx, query, args, func(err error) error { return err })
}
