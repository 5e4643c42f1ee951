// Package audit keeps the append-only, hash-chained audit trail (安全审计).
//
// Every row is chained to the one before it by an SM3 hash over its fields
// and the previous row's hash; ids are gapless. The database refuses UPDATE
// and DELETE on the table (triggers on both engines), except that rows already
// written to a recorded archive may be purged by the retention job. Verify
// walks the chain and names the first row that does not fit.
package audit

import (
	"context"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"jifen/internal/actor"

	"github.com/emmansun/gmsm/sm3"

	"jifen/internal/platform/clock"
	"jifen/internal/platform/db"
)

// Outcomes of an audited action.
const (
	Success = "success"
	Failure = "failure"
	Denied  = "denied"
)

// Entry is one audited event. Actor fields left empty are taken from the
// Actor in the context (set by the web layer for every request).
type Entry struct {
	ID         int64
	At         time.Time
	ActorID    int64
	ActorLogin string
	ActorRole  string
	ClientAddr string
	Action     string
	ObjectType string
	ObjectID   string
	Outcome    string
	Reason     string
	RequestID  string
	PrevHash   string
	Hash       string
}

// Log is the audit trail.
type Log struct {
	db    *db.DB
	clock clock.Clock
	reads readBuffer // reads of applicants' files, written in batches (reads.go)
	// hook, when set, sees every entry as it is recorded: the security
	// log (internal/logs) is fed from it rather than from every caller.
	hook func(Entry)
}

// OnRecord sets a function called with each entry as it is recorded
// (Record, after its row is written; RecordRead, when the read is
// noted). It must be quick and must not call the trail.
func (l *Log) OnRecord(f func(Entry)) { l.hook = f }

func (l *Log) notify(e Entry) {
	if l.hook != nil {
		l.hook(e)
	}
}

// New returns the audit trail stored in d.
func New(d *db.DB, c clock.Clock) *Log { return &Log{db: d, clock: c} }

// Record appends e to the trail. Inside a transaction in ctx it joins it, so
// the record commits or rolls back with the change it describes.
func (l *Log) Record(ctx context.Context, e Entry) error {
	a := actor.From(ctx)
	if e.ActorID == 0 && e.ActorLogin == "" {
		e.ActorID, e.ActorLogin = a.UserID, a.Login
		if e.ActorRole == "" {
			e.ActorRole = string(a.Role())
		}
	}
	if e.ClientAddr == "" {
		e.ClientAddr = a.ClientAddr
	}
	if e.RequestID == "" {
		e.RequestID = a.RequestID
	}
	if e.Outcome == "" {
		e.Outcome = Success
	}
	if e.Action == "" {
		return fmt.Errorf("audit: empty action")
	}
	return l.db.WithTx(ctx, func(ctx context.Context) error {
		var lastID int64
		var lastHash string
		if err := l.db.QueryRow(ctx, `SELECT last_id, last_hash FROM audit_head WHERE id = 1`+l.db.ForUpdate()).
			Scan(&lastID, &lastHash); err != nil {
			return fmt.Errorf("audit head: %w", err)
		}
		e.ID = lastID + 1
		e.At = l.clock.Now().Truncate(time.Microsecond)
		e.PrevHash = lastHash
		e.Hash = e.ComputeHash()
		if _, err := l.db.Exec(ctx, `INSERT INTO audit_log (id, at, actor_id, actor_login, actor_role, client_addr,
			action, object_type, object_id, outcome, reason, request_id, prev_hash, hash)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
			e.ID, db.Micros(e.At), e.ActorID, e.ActorLogin, e.ActorRole, e.ClientAddr, e.Action, e.ObjectType,
			e.ObjectID, e.Outcome, e.Reason, e.RequestID, e.PrevHash, e.Hash); err != nil {
			return fmt.Errorf("audit insert: %w", err)
		}
		if _, err := l.db.Exec(ctx, `UPDATE audit_head SET last_id = $1, last_hash = $2 WHERE id = 1`, e.ID, e.Hash); err != nil {
			return fmt.Errorf("audit head update: %w", err)
		}
		l.notify(e)
		return nil
	})
}

// ComputeHash returns the SM3 chain hash of e: over every field and the
// previous row's hash, each length-prefixed so no two rows can collide by
// moving text between fields.
func (e Entry) ComputeHash() string {
	var b strings.Builder
	for _, f := range []string{
		strconv.FormatInt(e.ID, 10), strconv.FormatInt(db.Micros(e.At), 10), strconv.FormatInt(e.ActorID, 10),
		e.ActorLogin, e.ActorRole, e.ClientAddr, e.Action, e.ObjectType, e.ObjectID, e.Outcome, e.Reason,
		e.RequestID, e.PrevHash,
	} {
		b.WriteString(strconv.Itoa(len(f)))
		b.WriteByte(':')
		b.WriteString(f)
		b.WriteByte('|')
	}
	sum := sm3.Sum([]byte(b.String()))
	return hex.EncodeToString(sum[:])
}

const entryColumns = `id, at, actor_id, actor_login, actor_role, client_addr, action, object_type, object_id,
	outcome, reason, request_id, prev_hash, hash`

type scanner interface{ Scan(dest ...any) error }

func scanEntry(s scanner) (Entry, error) {
	var e Entry
	var at int64
	err := s.Scan(&e.ID, &at, &e.ActorID, &e.ActorLogin, &e.ActorRole, &e.ClientAddr, &e.Action, &e.ObjectType,
		&e.ObjectID, &e.Outcome, &e.Reason, &e.RequestID, &e.PrevHash, &e.Hash)
	e.At = db.FromMicros(at)
	return e, err
}
