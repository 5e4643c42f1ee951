package audit

import (
	"compress/gzip"
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/emmansun/gmsm/sm3"

	"jifen/internal/platform/db"
)

// Retention is how long rows stay in the live trail (等保: at least 6 months;
// the bureau keeps 12).
const Retention = 365 * 24 * time.Hour

// Archive describes one archive file written by Purge.
type Archive struct {
	FirstID, LastID int64
	LastHash        string
	File            string
	FileSM3         string
	Rows            int64
}

// Purge moves rows older than cutoff out of the live trail: it writes them
// to a gzipped JSON-lines file in dir, syncs it, records the file's SM3 hash
// in audit_archives and only then deletes the rows, in one transaction. A
// crash before the transaction leaves the rows in place and the next run
// writes the same file again. It returns a zero Archive when nothing is due.
func (l *Log) Purge(ctx context.Context, dir string, cutoff time.Time) (Archive, error) {
	var a Archive
	var first, last sql.NullInt64
	if err := l.db.QueryRow(ctx, `SELECT min(id), max(id) FROM audit_log WHERE at < $1`, db.Micros(cutoff)).
		Scan(&first, &last); err != nil {
		return a, err
	}
	if !last.Valid {
		return a, nil
	}
	// Archive from the oldest live row, so the archives stay contiguous.
	if err := l.db.QueryRow(ctx, `SELECT min(id) FROM audit_log`).Scan(&first); err != nil {
		return a, err
	}
	a.FirstID, a.LastID = first.Int64, last.Int64
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return a, err
	}
	a.File = filepath.Join(dir, fmt.Sprintf("audit-%012d-%012d.jsonl.gz", a.FirstID, a.LastID))
	if err := l.writeArchive(ctx, &a); err != nil {
		return a, err
	}
	err := l.db.WithTx(ctx, func(ctx context.Context) error {
		if _, err := l.db.Exec(ctx, `INSERT INTO audit_archives (first_id, last_id, last_hash, file, file_sm3, row_count, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`, a.FirstID, a.LastID, a.LastHash, filepath.Base(a.File), a.FileSM3, a.Rows,
			db.Micros(l.clock.Now())); err != nil {
			return err
		}
		if _, err := l.db.Exec(ctx, `DELETE FROM audit_log WHERE id <= $1`, a.LastID); err != nil {
			return err
		}
		return l.Record(ctx, Entry{Action: "audit.purge", ObjectType: "audit_archive", ObjectID: filepath.Base(a.File),
			ActorLogin: "system", Reason: "rows " + strconv.FormatInt(a.FirstID, 10) + "-" + strconv.FormatInt(a.LastID, 10) +
				" archived, SM3 " + a.FileSM3})
	})
	return a, err
}

func (l *Log) writeArchive(ctx context.Context, a *Archive) error {
	tmp, err := os.CreateTemp(filepath.Dir(a.File), ".audit-archive-*")
	if err != nil {
		return err
	}
	defer func() { _ = os.Remove(tmp.Name()) }() // gone after the rename; a leftover only on failure
	h := sm3.New()
	zw := gzip.NewWriter(io.MultiWriter(tmp, h))
	err = l.encodeRows(ctx, a, json.NewEncoder(zw))
	if err == nil {
		err = zw.Close()
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	a.FileSM3 = hex.EncodeToString(h.Sum(nil))
	return os.Rename(tmp.Name(), a.File)
}

func (l *Log) encodeRows(ctx context.Context, a *Archive, enc *json.Encoder) error {
	rows, err := l.db.Query(ctx, `SELECT `+entryColumns+` FROM audit_log WHERE id BETWEEN $1 AND $2 ORDER BY id`, a.FirstID, a.LastID)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		e, err := scanEntry(rows)
		if err != nil {
			return err
		}
		if err := enc.Encode(e); err != nil {
			return err
		}
		a.Rows++
		a.LastHash = e.Hash
	}
	return rows.Err()
}
