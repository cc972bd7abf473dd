package queue

import (
	"context"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/rivertype"

	"github.com/inviter/inviter/store"
)

// backend is the River client with its transaction type hidden: the rest of
// the package is not generic.
type backend interface {
	insertTx(ctx context.Context, tx *store.Tx, args InviteArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
	insertManyTx(ctx context.Context, tx *store.Tx, params []river.InsertManyParams) ([]*rivertype.JobInsertResult, error)
	start(ctx context.Context) error
	stop(ctx context.Context) error
	stopAndCancel(ctx context.Context) error
	jobList(ctx context.Context, params *river.JobListParams) (*river.JobListResult, error)
	jobGet(ctx context.Context, id int64) (*rivertype.JobRow, error)
	jobRetry(ctx context.Context, id int64) (*rivertype.JobRow, error)
	jobCancel(ctx context.Context, id int64) (*rivertype.JobRow, error)
	subscribe(kinds ...river.EventKind) (<-chan *river.Event, func())
}

// riverBackend is backend for one driver; TTx is *sql.Tx for riversqlite and
// pgx.Tx for riverpgxv5.
type riverBackend[TTx any] struct {
	client *river.Client[TTx]
	txOf   func(*store.Tx) TTx // the store transaction as River's type
}

func newRiverBackend[TTx any](driver riverdriver.Driver[TTx], cfg *river.Config, txOf func(*store.Tx) TTx) (*riverBackend[TTx], error) {
	client, err := river.NewClient(driver, cfg)
	if err != nil {
		return nil, err
	}
	return &riverBackend[TTx]{client: client, txOf: txOf}, nil
}

func (b *riverBackend[TTx]) insertTx(ctx context.Context, tx *store.Tx, args InviteArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error) {
	return b.client.InsertTx(ctx, b.txOf(tx), args, opts)
}

func (b *riverBackend[TTx]) insertManyTx(ctx context.Context, tx *store.Tx, params []river.InsertManyParams) ([]*rivertype.JobInsertResult, error) {
	return b.client.InsertManyTx(ctx, b.txOf(tx), params)
}

func (b *riverBackend[TTx]) start(ctx context.Context) error { return b.client.Start(ctx) }
func (b *riverBackend[TTx]) stop(ctx context.Context) error  { return b.client.Stop(ctx) }
func (b *riverBackend[TTx]) stopAndCancel(ctx context.Context) error {
	return b.client.StopAndCancel(ctx)
}

func (b *riverBackend[TTx]) jobList(ctx context.Context, params *river.JobListParams) (*river.JobListResult, error) {
	return b.client.JobList(ctx, params)
}

func (b *riverBackend[TTx]) jobGet(ctx context.Context, id int64) (*rivertype.JobRow, error) {
	return b.client.JobGet(ctx, id)
}

func (b *riverBackend[TTx]) jobRetry(ctx context.Context, id int64) (*rivertype.JobRow, error) {
	return b.client.JobRetry(ctx, id)
}

func (b *riverBackend[TTx]) jobCancel(ctx context.Context, id int64) (*rivertype.JobRow, error) {
	return b.client.JobCancel(ctx, id)
}

func (b *riverBackend[TTx]) subscribe(kinds ...river.EventKind) (<-chan *river.Event, func()) {
	return b.client.Subscribe(kinds...)
}
