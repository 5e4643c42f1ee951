package audit

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// VerifyResult is the outcome of walking the chain.
type VerifyResult struct {
	Rows     int64  // rows checked
	FirstID  int64  // first row present
	LastID   int64  // last row present
	BrokenID int64  // first row that does not fit; 0 when the chain is whole
	Problem  string // what is wrong with BrokenID
}

// OK reports whether the chain is whole.
func (r VerifyResult) OK() bool { return r.BrokenID == 0 && r.Problem == "" }

// Verify walks the whole trail in id order and reports the first row whose
// id, link or hash does not fit, and a head that does not match the last row
// (rows cut off the end).
func (l *Log) Verify(ctx context.Context) (VerifyResult, error) {
	var res VerifyResult
	var minID sql.NullInt64
	if err := l.db.QueryRow(ctx, `SELECT min(id) FROM audit_log`).Scan(&minID); err != nil {
		return res, err
	}
	prevHash, prevID := "", int64(0)
	if !minID.Valid {
		// Empty trail: either nothing was ever recorded or everything was
		// archived; the newest archive is then the anchor.
		err := l.db.QueryRow(ctx, `SELECT last_id, last_hash FROM audit_archives ORDER BY last_id DESC LIMIT 1`).
			Scan(&prevID, &prevHash)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return res, err
		}
	}
	if minID.Valid && minID.Int64 > 1 {
		// Rows before minID were purged: the archive that holds them anchors the chain.
		err := l.db.QueryRow(ctx, `SELECT last_id, last_hash FROM audit_archives WHERE last_id = $1`, minID.Int64-1).
			Scan(&prevID, &prevHash)
		if errors.Is(err, sql.ErrNoRows) {
			res.BrokenID = minID.Int64
			res.Problem = fmt.Sprintf("rows before id %d are missing and no archive records them", minID.Int64)
			return res, nil
		}
		if err != nil {
			return res, err
		}
	}
	rows, err := l.db.Query(ctx, `SELECT `+entryColumns+` FROM audit_log ORDER BY id`)
	if err != nil {
		return res, err
	}
	defer rows.Close()
	for rows.Next() {
		e, err := scanEntry(rows)
		if err != nil {
			return res, err
		}
		res.Rows++
		if res.FirstID == 0 {
			res.FirstID = e.ID
		}
		res.LastID = e.ID
		switch {
		case e.ID != prevID+1:
			res.BrokenID, res.Problem = e.ID, fmt.Sprintf("id %d follows id %d: rows are missing", e.ID, prevID)
		case e.PrevHash != prevHash:
			res.BrokenID, res.Problem = e.ID, "prev_hash does not match the previous row's hash"
		case e.ComputeHash() != e.Hash:
			res.BrokenID, res.Problem = e.ID, "the row's contents do not match its hash: it was changed"
		}
		if res.BrokenID != 0 {
			return res, nil
		}
		prevID, prevHash = e.ID, e.Hash
	}
	if err := rows.Err(); err != nil {
		return res, err
	}
	var headID int64
	var headHash string
	if err := l.db.QueryRow(ctx, `SELECT last_id, last_hash FROM audit_head WHERE id = 1`).Scan(&headID, &headHash); err != nil {
		return res, err
	}
	if headID != prevID || headHash != prevHash {
		res.BrokenID = prevID + 1
		res.Problem = fmt.Sprintf("the trail ends at id %d but the head records id %d: rows were removed from the end", prevID, headID)
	}
	return res, nil
}
