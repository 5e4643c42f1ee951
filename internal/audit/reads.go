package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"jifen/internal/actor"
	"jifen/internal/platform/db"
)

// Actions of the reads of an applicant's file by someone else. Every such
// row has object type "person" and the applicant's person id as object id,
// so the audit administrator finds every read of one applicant's file with
// one search (ApplicantFilter), whatever was read.
const (
	ReadApplication = "person.read_application" // the application: declaration, attachments list, timeline
	ReadAttachment  = "person.read_attachment"  // one attachment's content
	ReadDiscrepancy = "person.read_discrepancy" // a cross-check discrepancy: declared and verified values
	ViewIDNumber    = "person.view_id_number"   // the full identity number (person.FullIDNumber)
	ReadStatsCell   = "person.read_stats_cell"  // listed in a statistics drill-down: name, employer, status, score
)

// Read is one read of an applicant's file by someone other than the
// applicant.
type Read struct {
	Action   string // one of the Read* actions above
	PersonID int64  // whose file
	// What is the object read and which part of it, in words for the
	// auditor: "申请 12：申报信息、材料清单、办理记录", "附件 5（housing）".
	What string
}

// ApplicantFilter selects every audited read of (and every other action
// recorded against) one applicant's file.
func ApplicantFilter(personID int64) Filter {
	return Filter{ObjectType: "person", ObjectID: strconv.FormatInt(personID, 10)}
}

type routeKey struct{}

// WithRoute records in ctx how to name the entry point of the request (the
// method and route pattern, e.g. "GET /employer/applications/{id}"), so a
// read's row says where it came from. The web layer sets it; the pattern
// is asked for only when a read is recorded, after the mux matched it.
func WithRoute(ctx context.Context, route func() string) context.Context {
	return context.WithValue(ctx, routeKey{}, route)
}

func routeOf(ctx context.Context) string {
	if f, ok := ctx.Value(routeKey{}).(func() string); ok && f != nil {
		return f()
	}
	return ""
}

// maxPendingReads bounds the buffer when the database refuses the flush for
// a long time; past it the oldest reads are dropped and the drop is counted
// in the next row written.
const maxPendingReads = 100_000

// readBuffer holds reads until the next flush: a page that reads a file
// appends to a slice under a mutex instead of taking the audit head's lock
// and writing a row, and one transaction writes many reads.
type readBuffer struct {
	// flushing is held for a whole flush, so that when FlushReads returns
	// every read recorded before the call is written, even those a flush
	// running alongside took from the buffer.
	flushing sync.Mutex
	mu       sync.Mutex
	pending  []Entry
	dropped  int
	full     chan struct{} // signalled when a batch is ready to go
}

// ReadBatch is how many buffered reads make the flusher write at once,
// without waiting for its interval.
const ReadBatch = 256

// RecordRead notes that by read an applicant's file. It costs an append
// under a mutex: the row is written with the next flush (RunReadFlusher's
// interval, a full batch, or FlushReads), chained like any other row. The
// time, actor and address are those of the read. A read by the applicant
// themselves is not recorded.
func (l *Log) RecordRead(ctx context.Context, by actor.Actor, r Read) {
	if r.PersonID == 0 || (by.PersonID != 0 && by.PersonID == r.PersonID) {
		return
	}
	a := actor.From(ctx)
	if by.UserID == 0 && by.Login == "" {
		by = a
	}
	e := Entry{At: l.clock.Now().Truncate(time.Microsecond), ActorID: by.UserID, ActorLogin: by.Login,
		ActorRole: string(by.Role()), ClientAddr: by.ClientAddr, RequestID: by.RequestID, Action: r.Action,
		ObjectType: "person", ObjectID: strconv.FormatInt(r.PersonID, 10), Outcome: Success, Reason: r.What}
	if e.ClientAddr == "" {
		e.ClientAddr = a.ClientAddr
	}
	if e.RequestID == "" {
		e.RequestID = a.RequestID
	}
	if via := routeOf(ctx); via != "" {
		e.Reason += "；来自 " + via
	}
	e.Reason = Purposed(purposeOf(ctx), e.Reason)
	l.notify(e)
	b := &l.reads
	b.mu.Lock()
	if len(b.pending) >= maxPendingReads {
		b.pending = b.pending[1:]
		b.dropped++
	}
	b.pending = append(b.pending, e)
	n := len(b.pending)
	b.mu.Unlock()
	if n >= ReadBatch {
		select {
		case b.fullChan() <- struct{}{}:
		default:
		}
	}
}

func (b *readBuffer) fullChan() chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.full == nil {
		b.full = make(chan struct{}, 1)
	}
	return b.full
}

// PendingReads is the number of reads not yet written.
func (l *Log) PendingReads() int {
	l.reads.mu.Lock()
	defer l.reads.mu.Unlock()
	return len(l.reads.pending)
}

// FlushReads writes every buffered read in one transaction: one lock of the
// audit head, one INSERT of the whole batch, one update of the head. On
// failure the reads go back to the buffer for the next flush.
func (l *Log) FlushReads(ctx context.Context) error {
	b := &l.reads
	b.flushing.Lock()
	defer b.flushing.Unlock()
	b.mu.Lock()
	batch, dropped := b.pending, b.dropped
	b.pending, b.dropped = nil, 0
	b.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	if dropped > 0 {
		batch[0].Reason += fmt.Sprintf("（缓冲区满，此前有 %d 条读取记录未能写入）", dropped)
	}
	if err := l.recordMany(ctx, batch); err != nil {
		b.mu.Lock()
		b.pending = append(batch, b.pending...)
		if over := len(b.pending) - maxPendingReads; over > 0 {
			b.pending, b.dropped = b.pending[over:], b.dropped+over
		}
		b.mu.Unlock()
		return err
	}
	return nil
}

// RunReadFlusher writes buffered reads every interval, or as soon as a
// batch is full, until ctx ends; then it writes what is left.
func (l *Log) RunReadFlusher(ctx context.Context, interval time.Duration, onErr func(error)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	full := l.reads.fullChan()
	// A flush under way when ctx ends runs to its end: its own context
	// is not ctx's, with a deadline of its own.
	flush := func() {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := l.FlushReads(fctx); err != nil && onErr != nil {
			onErr(err)
		}
	}
	for {
		select {
		case <-ctx.Done():
			flush()
			return
		case <-t.C:
			flush()
		case <-full:
			flush()
		}
	}
}

// recordMany appends entries (with their At already set) to the chain in
// one transaction and one INSERT statement.
func (l *Log) recordMany(ctx context.Context, es []Entry) error {
	type row struct {
		ID         int64  `json:"id"`
		At         int64  `json:"at"`
		ActorID    int64  `json:"actor_id"`
		ActorLogin string `json:"actor_login"`
		ActorRole  string `json:"actor_role"`
		ClientAddr string `json:"client_addr"`
		Action     string `json:"action"`
		ObjectType string `json:"object_type"`
		ObjectID   string `json:"object_id"`
		Outcome    string `json:"outcome"`
		Reason     string `json:"reason"`
		RequestID  string `json:"request_id"`
		PrevHash   string `json:"prev_hash"`
		Hash       string `json:"hash"`
	}
	return l.db.WithTx(ctx, func(ctx context.Context) error {
		var lastID int64
		var lastHash string
		if err := l.db.QueryRow(ctx, `SELECT last_id, last_hash FROM audit_head WHERE id = 1`+l.db.ForUpdate()).
			Scan(&lastID, &lastHash); err != nil {
			return fmt.Errorf("audit head: %w", err)
		}
		rows := make([]row, len(es))
		for i := range es {
			e := &es[i]
			cleanEntry(e)
			e.ID, e.PrevHash = lastID+1, lastHash
			e.Hash = e.ComputeHash()
			lastID, lastHash = e.ID, e.Hash
			rows[i] = row{e.ID, db.Micros(e.At), e.ActorID, e.ActorLogin, e.ActorRole, e.ClientAddr, e.Action, e.ObjectType,
				e.ObjectID, e.Outcome, e.Reason, e.RequestID, e.PrevHash, e.Hash}
		}
		js, err := json.Marshal(rows)
		if err != nil {
			return err
		}
		if _, err := l.db.Exec(ctx, `INSERT INTO audit_log (id, at, actor_id, actor_login, actor_role, client_addr,
			action, object_type, object_id, outcome, reason, request_id, prev_hash, hash)
			SELECT r.id, r.at, r.actor_id, r.actor_login, r.actor_role, r.client_addr, r.action, r.object_type, r.object_id,
			r.outcome, r.reason, r.request_id, r.prev_hash, r.hash FROM `+l.db.JSONRows("$1", "id BIGINT", "at BIGINT",
			"actor_id BIGINT", "actor_login TEXT", "actor_role TEXT", "client_addr TEXT", "action TEXT", "object_type TEXT",
			"object_id TEXT", "outcome TEXT", "reason TEXT", "request_id TEXT", "prev_hash TEXT", "hash TEXT")+` r ORDER BY r.id`,
			string(js)); err != nil {
			return fmt.Errorf("audit batch insert: %w", err)
		}
		if _, err := l.db.Exec(ctx, `UPDATE audit_head SET last_id = $1, last_hash = $2 WHERE id = 1`, lastID, lastHash); err != nil {
			return fmt.Errorf("audit head update: %w", err)
		}
		return nil
	})
}

// cleanEntry makes every text field storable as it is hashed: valid UTF-8
// without NUL (PostgreSQL's text and jsonb refuse NUL, and JSON encoding
// would replace invalid bytes after the hash was taken).
func cleanEntry(e *Entry) {
	for _, s := range []*string{&e.ActorLogin, &e.ActorRole, &e.ClientAddr, &e.Action, &e.ObjectType, &e.ObjectID,
		&e.Outcome, &e.Reason, &e.RequestID} {
		*s = strings.ReplaceAll(strings.ToValidUTF8(*s, "\uFFFD"), "\x00", "")
	}
}
