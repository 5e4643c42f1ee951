package mail

import (
	"context"
	"testing"

	"jifen/internal/platform/db"
	"jifen/internal/platform/jobs"
)

// manyNotices returns n valid messages, the first with an idempotency key.
func manyNotices(n int) []Message {
	msgs := make([]Message, n)
	for i := range msgs {
		msgs[i] = notice(i)
	}
	msgs[0].IdempotencyKey = "first-result:0"
	return msgs
}

// TestEnqueueManyQueuesRowsAndJobs: a batch of the cross-check's size is
// one statement of the outbox's and one insert of River's, in the caller's
// transaction; a message already queued under its key gets neither a row
// nor a job again, and an invalid one is skipped.
func TestEnqueueManyQueuesRowsAndJobs(t *testing.T) {
	t.Parallel()
	o, _ := newOutbox(t)
	j := jobs.New(o.db, nil)
	if _, err := NewWorker(o, j, nil, WorkerConfig{}, nil); err != nil {
		t.Fatal(err)
	}
	mustEnqueue(t, o, manyNotices(1)[0])
	msgs := manyNotices(500)
	bad := notice(9999)
	bad.To = "not an address"
	msgs = append(msgs, bad)

	ctx, counter := db.CountQueries(context.Background())
	var valid int
	err := o.db.WithTx(ctx, func(ctx context.Context) error {
		var err error
		valid, err = o.EnqueueMany(ctx, msgs)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if valid != 500 {
		t.Errorf("%d valid messages, want 500", valid)
	}
	// The outbox's statement; River's insert runs on the same transaction
	// but not through platform/db, so it is not counted here.
	if counter.N() != 1 {
		t.Errorf("%d outbox statements for a batch: %q", counter.N(), counter.Statements())
	}
	c, err := o.Counts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if c[StatusQueued] != 500 {
		t.Errorf("%d messages queued, want 500", c[StatusQueued])
	}
	depth, err := j.Depth(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(depth) != 1 || depth[0].Kind != "mail_send" || depth[0].Waiting != 500 {
		t.Errorf("delivery jobs: %+v, want 500 waiting", depth)
	}
}

// BenchmarkEnqueueMany500 is one cross-check batch's mail: 500 rows in one
// transaction, with their 500 delivery jobs and (for comparison) without.
func BenchmarkEnqueueMany500(b *testing.B) {
	for _, withJobs := range []bool{true, false} {
		name := "rows+jobs"
		if !withJobs {
			name = "rows"
		}
		b.Run(name, func(b *testing.B) {
			o, _ := newOutbox(b)
			if withJobs {
				if _, err := NewWorker(o, jobs.New(o.db, nil), nil, WorkerConfig{}, nil); err != nil {
					b.Fatal(err)
				}
			}
			msgs := manyNotices(500)
			msgs[0].IdempotencyKey = ""
			for b.Loop() {
				err := o.db.WithTx(context.Background(), func(ctx context.Context) error {
					_, err := o.EnqueueMany(ctx, msgs)
					return err
				})
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
