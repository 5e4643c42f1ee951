package db

import (
	"context"
	"database/sql"
	"fmt"
)

// Batch runs fn, a short write, in a transaction it may share with other
// concurrent Batch calls: one commit — one fsync — for all of them. On
// SQLite, where every commit waits for its own fsync behind the single
// writer, this group commit multiplies the rate of small writes (draft
// saves) without weakening durability: Batch returns only after the shared
// transaction has committed. Each fn runs inside its own savepoint, so one
// failing fn is undone alone. fn must not do slow work: the batch runs the
// functions one after another. Inside a transaction, or on PostgreSQL (which
// groups concurrent commits itself), Batch is WithTx.
func (db *DB) Batch(ctx context.Context, fn func(ctx context.Context) error) error {
	if db.Dialect != SQLite || InTx(ctx) {
		return db.WithTx(ctx, fn)
	}
	db.batchOnce.Do(func() {
		db.batch = make(chan *batchReq, 256)
		db.batchDone = make(chan struct{})
		go db.runBatches()
	})
	req := &batchReq{ctx: ctx, fn: fn, done: make(chan error, 1)}
	select {
	case db.batch <- req:
	case <-ctx.Done():
		return ctx.Err()
	case <-db.batchDone:
		return fmt.Errorf("db: closed")
	}
	return <-req.done
}

type batchReq struct {
	ctx  context.Context
	fn   func(ctx context.Context) error
	done chan error
}

// maxBatch bounds how many writes share one commit.
const maxBatch = 64

func (db *DB) runBatches() {
	defer close(db.batchDone)
	for first := range db.batch {
		reqs := []*batchReq{first}
	collect:
		for len(reqs) < maxBatch {
			select {
			case r, ok := <-db.batch:
				if !ok {
					break collect
				}
				reqs = append(reqs, r)
			default:
				break collect
			}
		}
		db.runBatch(reqs)
	}
}

func (db *DB) runBatch(reqs []*batchReq) {
	errs := make([]error, len(reqs))
	tx, err := db.w.BeginTx(context.Background(), nil)
	if err == nil {
		for i, r := range reqs {
			errs[i] = runSaved(tx, r)
		}
		err = tx.Commit()
	}
	for i, r := range reqs {
		if err != nil {
			errs[i] = fmt.Errorf("batch commit: %w", err)
		}
		r.done <- errs[i]
	}
}

// runSaved runs one request inside a savepoint of the shared transaction.
func runSaved(tx *sql.Tx, r *batchReq) error {
	if err := r.ctx.Err(); err != nil {
		return err
	}
	if _, err := tx.ExecContext(r.ctx, "SAVEPOINT batch_item"); err != nil {
		return err
	}
	err := r.fn(context.WithValue(r.ctx, txKey{}, tx))
	if err != nil {
		_, _ = tx.ExecContext(context.Background(), "ROLLBACK TO batch_item")
	}
	if _, rerr := tx.ExecContext(context.Background(), "RELEASE batch_item"); rerr != nil && err == nil {
		err = rerr
	}
	return err
}
