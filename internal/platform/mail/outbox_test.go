package mail

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"jifen/internal/platform/apperr"
	"jifen/internal/platform/clock"
	"jifen/internal/platform/db"
	"jifen/internal/platform/db/dbtest"
)

var t0 = time.Date(2026, 4, 15, 8, 0, 0, 0, time.UTC)

func newOutbox(t testing.TB) (*Outbox, *clock.Fake) {
	t.Helper()
	clk := clock.NewFake(t0)
	return NewOutbox(dbtest.Open(t), clk), clk
}

// notice returns a valid message to i's address.
func notice(i int) Message {
	m := chineseNotice()
	m.ID, m.CreatedAt = 0, time.Time{}
	m.To = "applicant" + strconv.Itoa(i) + "@example.cn"
	m.Ref = "application:" + strconv.Itoa(i)
	return m
}

func mustEnqueue(t *testing.T, o *Outbox, m Message) int64 {
	t.Helper()
	id, err := o.Enqueue(context.Background(), m)
	if err != nil {
		t.Fatalf("enqueue: %v", err)
	}
	return id
}

func mustGet(t *testing.T, o *Outbox, id int64) Message {
	t.Helper()
	m, err := o.Get(context.Background(), id)
	if err != nil {
		t.Fatalf("get %d: %v", id, err)
	}
	return m
}

func TestEnqueueStoresTheMessage(t *testing.T) {
	t.Parallel()
	o, _ := newOutbox(t)
	in := chineseNotice()
	in.To, in.ToName = "  zhang.san@example.cn ", " 张三 "
	id := mustEnqueue(t, o, in)
	got := mustGet(t, o, id)
	want := chineseNotice()
	want.ID, want.CreatedAt, want.Status, want.NextAttemptAt = id, t0, StatusQueued, t0
	if got != want {
		t.Errorf("stored\n%+v\nwant\n%+v", got, want)
	}
}

func TestEnqueueValidates(t *testing.T) {
	t.Parallel()
	o, _ := newOutbox(t)
	for _, tc := range []struct {
		name  string
		edit  func(m *Message)
		field string
	}{
		{"no address", func(m *Message) { m.To = " " }, "to"},
		{"not an address", func(m *Message) { m.To = "zhangsan.example.cn" }, "to"},
		{"display form", func(m *Message) { m.To = "张三 <zhangsan@example.cn>" }, "to"},
		{"two addresses", func(m *Message) { m.To = "a@example.cn, b@example.cn" }, "to"},
		{"name with newline", func(m *Message) { m.ToName = "张三\r\nBcc: x@evil.cn" }, "to_name"},
		{"no subject", func(m *Message) { m.Subject = "" }, "subject"},
		{"subject with newline", func(m *Message) { m.Subject = "通知\nBcc: x@evil.cn" }, "subject"},
		{"subject too long", func(m *Message) { m.Subject = strings.Repeat("积", 201) }, "subject"},
		{"no body", func(m *Message) { m.Text = " \n" }, "text"},
		{"key too long", func(m *Message) { m.IdempotencyKey = strings.Repeat("k", 201) }, "idempotency_key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := notice(1)
			tc.edit(&m)
			_, err := o.Enqueue(context.Background(), m)
			var ae *apperr.Error
			if !errors.As(err, &ae) || ae.Code != apperr.Invalid {
				t.Fatalf("got %v, want an invalid error", err)
			}
			if len(ae.Fields) != 1 || ae.Fields[0].Field != tc.field {
				t.Fatalf("fields %+v, want one about %q", ae.Fields, tc.field)
			}
			if !strings.ContainsFunc(ae.Fields[0].Message, func(r rune) bool { return r >= 0x4e00 && r <= 0x9fff }) {
				t.Errorf("message %q is not in Chinese", ae.Fields[0].Message)
			}
		})
	}
	if c, _ := o.Counts(context.Background()); c[StatusQueued] != 0 {
		t.Errorf("invalid messages were stored: %v", c)
	}
}

func TestEnqueueIdempotencyKey(t *testing.T) {
	t.Parallel()
	o, _ := newOutbox(t)
	ctx := context.Background()
	m := notice(1)
	m.IdempotencyKey = "application:123:returned:1"
	first := mustEnqueue(t, o, m)
	m.Subject = "另一封"
	if again := mustEnqueue(t, o, m); again != first {
		t.Errorf("second enqueue with the key: id %d, want %d", again, first)
	}
	if got := mustGet(t, o, first); got.Subject == "另一封" {
		t.Error("the second enqueue overwrote the first message")
	}

	// Inside one transaction: the conflict must not abort it (PostgreSQL
	// aborts a transaction on a unique violation).
	m.IdempotencyKey = "application:124:submitted"
	err := o.db.WithTx(ctx, func(ctx context.Context) error {
		a, err := o.Enqueue(ctx, m)
		if err != nil {
			return err
		}
		b, err := o.Enqueue(ctx, m)
		if err != nil {
			return err
		}
		if a != b {
			t.Errorf("in one transaction: ids %d and %d", a, b)
		}
		_, err = o.Enqueue(ctx, notice(2))
		return err
	})
	if err != nil {
		t.Fatalf("transaction: %v", err)
	}

	// Without a key, every enqueue is a message of its own.
	a, b := mustEnqueue(t, o, notice(3)), mustEnqueue(t, o, notice(3))
	if a == b {
		t.Error("two messages without a key share an id")
	}
	if c, _ := o.Counts(ctx); c[StatusQueued] != 5 {
		t.Errorf("queued %d, want 5", c[StatusQueued])
	}
}

func TestListCountsAndGet(t *testing.T) {
	t.Parallel()
	o, _ := newOutbox(t)
	ctx := context.Background()
	var ids []int64
	for i := range 5 {
		m := notice(i)
		if i%2 == 1 {
			m.Category = "employer.link"
		}
		ids = append(ids, mustEnqueue(t, o, m))
	}
	if _, err := o.db.Exec(ctx, `UPDATE mail_outbox SET status = 'failed' WHERE id = $1`, ids[4]); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		f    Filter
		want []int64
	}{
		{"all, newest first", Filter{}, []int64{ids[4], ids[3], ids[2], ids[1], ids[0]}},
		{"status", Filter{Status: StatusFailed}, []int64{ids[4]}},
		{"recipient, any case", Filter{To: "APPLICANT2@Example.CN"}, []int64{ids[2]}},
		{"category", Filter{Category: "employer.link"}, []int64{ids[3], ids[1]}},
		{"ref", Filter{Ref: "application:0"}, []int64{ids[0]}},
		{"category and status", Filter{Category: "application.status", Status: StatusQueued}, []int64{ids[2], ids[0]}},
		{"page", Filter{Limit: 2, Offset: 1}, []int64{ids[3], ids[2]}},
		{"nothing", Filter{To: "nobody@example.cn"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ms, err := o.List(ctx, tc.f)
			if err != nil {
				t.Fatal(err)
			}
			var got []int64
			for _, m := range ms {
				got = append(got, m.ID)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("ids %v, want %v", got, tc.want)
			}
		})
	}
	if _, err := o.List(ctx, Filter{Status: "lost"}); !apperr.Is(err, apperr.Invalid) {
		t.Errorf("unknown status: %v, want invalid", err)
	}
	c, err := o.Counts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[Status]int{StatusQueued: 4, StatusSending: 0, StatusSent: 0, StatusFailed: 1}; !maps.Equal(c, want) {
		t.Errorf("counts %v, want %v", c, want)
	}
	_, err = o.Get(ctx, 9999)
	if !errors.Is(err, db.ErrNotFound) || !apperr.Is(err, apperr.NotFound) {
		t.Errorf("get a missing message: %v", err)
	}
}

func TestRetryOnlyFailed(t *testing.T) {
	t.Parallel()
	o, clk := newOutbox(t)
	ctx := context.Background()
	id := mustEnqueue(t, o, notice(1))
	if err := o.Retry(ctx, id); !apperr.Is(err, apperr.Conflict) {
		t.Errorf("retry a queued message: %v, want conflict", err)
	}
	if err := o.Retry(ctx, 9999); !errors.Is(err, db.ErrNotFound) {
		t.Errorf("retry a missing message: %v, want not found", err)
	}
	if _, err := o.db.Exec(ctx, `UPDATE mail_outbox SET status = 'failed', attempts = 10, last_error = 'boom' WHERE id = $1`, id); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Hour)
	if err := o.Retry(ctx, id); err != nil {
		t.Fatal(err)
	}
	m := mustGet(t, o, id)
	if m.Status != StatusQueued || m.Attempts != 0 || !m.NextAttemptAt.Equal(t0.Add(time.Hour)) || m.LastError != "boom" {
		t.Errorf("after retry: %+v", m)
	}
}
