package application_test

import (
	"strings"
	"sync"
	"testing"

	"jifen/internal/application"
	"jifen/internal/casetest"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/db"
	"jifen/internal/platform/mail"
)

// Concurrent changes of one application — a double click, two officers —
// take effect exactly once: one status change, one timeline row, one mail.
// The others find the change made (File is idempotent) or answer conflict.
func TestConcurrentTransitionsTakeEffectOnce(t *testing.T) {
	e := casetest.New(t)
	me, opc, a := submittedToEmployer(t, e)
	before := a.Version
	const n = 8
	// On PostgreSQL every File holds its transaction after reading the
	// application until all n have read it, so all n write from the same
	// status and version: only the guard keeps the effect single. SQLite's
	// one writer runs the transactions one after another by itself.
	if e.DB.Dialect == db.Postgres {
		var mu sync.Mutex
		arrived, all := 0, make(chan struct{})
		e.Windows.Hook = func(string) {
			mu.Lock()
			if arrived++; arrived == n {
				close(all)
			}
			mu.Unlock()
			<-all
		}
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { _, errs[i] = e.Applications.File(e.Ctx, opc, a.ID) })
	}
	wg.Wait()
	e.Windows.Hook = nil
	// A File against a Return: one wins, the other answers conflict.
	if _, err := e.Applications.Return(e.Ctx, opc, a.ID, "请补充材料"); !apperr.Is(err, apperr.Conflict) {
		t.Fatalf("returned a filed application: %v", err)
	}
	for _, err := range errs {
		if err != nil {
			t.Fatalf("a repeated File must answer the filed application, got %v", err)
		}
	}
	got, err := e.Applications.Get(e.Ctx, opc, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != before+1 {
		t.Fatalf("version %d → %d: want exactly one change", before, got.Version)
	}
	evs, err := e.Applications.Events(e.Ctx, me, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	last := evs[len(evs)-1]
	if len(evs) != 3 || last.From != application.WithEmployer || last.To != application.Submitted || got.Status != application.Submitted {
		t.Fatalf("timeline %+v, status %s", evs, got.Status)
	}
	msgs, err := e.Outbox.List(e.Ctx, mail.Filter{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	mails := 0
	for _, m := range msgs {
		if strings.Contains(m.Subject, application.StatusName(application.Submitted)) {
			mails++
		}
	}
	if mails != 1 {
		t.Fatalf("%d mails about the change, want 1", mails)
	}
}
