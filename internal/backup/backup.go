// Package backup makes, checks and restores full backups of jifen
// (docs/operations.md, "Backups"): a consistent copy of the database, the
// attachment stores of the data directory and a manifest that names every
// file with its size and SM3 digest, the schema version, each table's row
// count and the audit chain's head. The master key is never in a backup.
//
// A backup is written under <dir>/<time>.partial and renamed to <dir>/<time>
// only when whole, so a target that fills up or disappears leaves nothing
// that looks like a backup. Each backup is then restored into a scratch
// database (the drill) and checked against its manifest; the outcome of
// both goes into backup_runs, which the monitoring page reads.
package backup

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/emmansun/gmsm/sm3"

	"jifen/internal/platform/clock"
	"jifen/internal/platform/db"
)

// Stores are the data directory's subdirectories a backup copies: the
// attachment stores (blob.Dir) and the audit archives. The master key file
// beside them is left out on purpose.
var Stores = []string{"blobs", "evidence", "objections", "faults", "audit-archive"}

// ManifestFile and DigestFile are the manifest and the SM3 digest of its
// bytes, in a backup's directory.
const (
	ManifestFile = "manifest.json"
	DigestFile   = "manifest.sm3"
	format       = 1
	timeLayout   = "20060102T150405Z"
)

// Manifest describes one backup.
type Manifest struct {
	Format        int              `json:"format"`
	CreatedAt     time.Time        `json:"created_at"`
	Engine        string           `json:"engine"`
	SchemaVersion int              `json:"schema_version"`
	AppVersion    string           `json:"app_version,omitempty"`
	Database      string           `json:"database"` // the dump's file name, one of Files
	Files         []File           `json:"files"`
	Tables        map[string]int64 `json:"tables"`
	AuditHead     AuditHead        `json:"audit_head"`
	MasterKey     string           `json:"master_key"`
}

// File is one file of a backup, by its path under the backup's directory.
type File struct {
	Path string `json:"path"`
	Size int64  `json:"size"`
	SM3  string `json:"sm3"`
}

// AuditHead is the audit chain's last row when the copy was taken.
type AuditHead struct {
	ID   int64  `json:"id"`
	Hash string `json:"hash"`
}

// Size is the total size of the backup's files.
func (m *Manifest) Size() int64 {
	var n int64
	for _, f := range m.Files {
		n += f.Size
	}
	return n
}

// Rows is the total of the table row counts.
func (m *Manifest) Rows() int64 {
	var n int64
	for _, c := range m.Tables {
		n += c
	}
	return n
}

const masterKeyNote = "not included: keep the master key (JIFEN_MASTER_KEY or <data-dir>/master.key) apart from the backups"

// Options configure a Service.
type Options struct {
	DataDir string        // where the attachment stores live
	Dir     string        // where backups go unless told otherwise
	Every   time.Duration // how often the schedule backs up; 0: never
	// KeepWeekly and KeepMonthly are how many weeks and months retention
	// keeps a backup of (the newest of each).
	KeepWeekly, KeepMonthly int
	Version                 string // the binary's, recorded in manifests
	Log                     *slog.Logger
}

// Service makes and checks the backups of one database.
type Service struct {
	db    *db.DB
	clock clock.Clock
	opt   Options
	// running keeps two backups of one process from overlapping (the
	// schedule and the command line).
	running sync.Mutex
	// afterDump runs between the dump and the attachment copy (tests: the
	// target vanishing mid-backup).
	afterDump func()
	// beforeDrill runs between the backup and its drill (tests: damage).
	beforeDrill func(dir string)
}

// New returns the backup service of d.
func New(d *db.DB, c clock.Clock, opt Options) *Service {
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	if opt.Dir == "" {
		opt.Dir = filepath.Join(opt.DataDir, "backups")
	}
	return &Service{db: d, clock: c, opt: opt}
}

// Errors a caller may tell apart.
var (
	ErrDrill   = errors.New("恢复演练未通过 (restore drill failed)")
	ErrCorrupt = errors.New("备份已损坏 (backup corrupted)")
	ErrBusy    = errors.New("另一个备份正在进行 (another backup is running)")
)

// Backup writes a full backup under dir (the configured directory when
// empty), drills it and records the run. It returns an error unless both
// the backup and its drill succeeded; the run is returned either way once
// it got as far as a directory.
func (s *Service) Backup(ctx context.Context, dir string) (*Run, *Manifest, error) {
	if !s.running.TryLock() {
		return nil, nil, ErrBusy
	}
	defer s.running.Unlock()
	if dir == "" {
		dir = s.opt.Dir
	}
	run := &Run{Kind: "full", StartedAt: s.clock.Now(), Status: StatusFailed}
	m, final, err := s.write(ctx, dir, run.StartedAt)
	if err == nil {
		run.Dir, run.Size, run.Status = final, m.Size(), StatusOK
		run.ManifestSM3, err = readDigest(final)
	}
	if err == nil {
		if s.beforeDrill != nil {
			s.beforeDrill(final)
		}
		res := s.Drill(ctx, final)
		run.DrillStatus, run.DrillDetail = res.Status(), res.Detail
		if !res.OK {
			err = fmt.Errorf("%w: %s", ErrDrill, res.Detail)
			// A backup that does not restore is not one to restore from.
			if rerr := os.Rename(final, final+".failed"); rerr == nil {
				run.Dir = final + ".failed"
			}
		}
	}
	if err != nil {
		run.Error = err.Error()
	}
	run.FinishedAt = s.clock.Now()
	if rerr := s.record(ctx, run); rerr != nil {
		err = errors.Join(err, fmt.Errorf("record the backup run: %w", rerr))
	}
	if err == nil && (s.opt.KeepWeekly > 0 || s.opt.KeepMonthly > 0) {
		removed, perr := Prune(dir, s.opt.KeepWeekly, s.opt.KeepMonthly, s.clock.Now())
		for _, r := range removed {
			s.opt.Log.Info("backup past retention removed", "dir", r)
		}
		if perr != nil {
			s.opt.Log.Warn("backup retention", "err", perr)
		}
	}
	if err != nil {
		s.opt.Log.Error("backup failed", "dir", dir, "err", err)
	} else {
		s.opt.Log.Info("backup written and drilled", "dir", run.Dir, "bytes", run.Size)
	}
	return run, m, err
}

// write makes the backup's directory and returns its manifest and path.
func (s *Service) write(ctx context.Context, dir string, at time.Time) (*Manifest, string, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, "", fmt.Errorf("备份目录 %s 无法创建 (cannot create the backup directory): %w", dir, err)
	}
	final := filepath.Join(dir, at.UTC().Format(timeLayout))
	partial := final + ".partial"
	if err := os.Mkdir(partial, 0o750); err != nil {
		return nil, "", fmt.Errorf("备份目录 %s 无法写入 (cannot write the backup directory): %w", dir, err)
	}
	m, err := s.fill(ctx, partial, at)
	if err == nil {
		err = os.Rename(partial, final)
	}
	if err != nil {
		// Whatever is left is marked partial; remove it if we still can.
		_ = os.RemoveAll(partial)
		return nil, "", fmt.Errorf("备份未完成，未留下不完整的备份 (backup not completed, nothing left behind): %w", err)
	}
	return m, final, nil
}

// fill writes the dump, the stores and the manifest into partial.
func (s *Service) fill(ctx context.Context, partial string, at time.Time) (*Manifest, error) {
	m := &Manifest{Format: format, CreatedAt: at.UTC(), Engine: s.db.Engine(), AppVersion: s.opt.Version,
		Database: db.DumpName(s.db.Engine()), Tables: map[string]int64{}, MasterKey: masterKeyNote}
	dump := filepath.Join(partial, m.Database)
	err := s.db.Snapshot(ctx, dump, func(ctx context.Context, snap *db.DB) error {
		st, err := snap.Status(ctx)
		if err != nil {
			return err
		}
		m.SchemaVersion = st.Current
		if m.Tables, err = tableCounts(ctx, snap); err != nil {
			return err
		}
		err = snap.QueryRow(ctx, `SELECT last_id, last_hash FROM audit_head WHERE id = 1`).Scan(&m.AuditHead.ID, &m.AuditHead.Hash)
		if db.IsNoRows(err) {
			err = nil
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	f, err := digestFile(partial, m.Database)
	if err != nil {
		return nil, err
	}
	m.Files = append(m.Files, f)
	if s.afterDump != nil {
		s.afterDump()
	}
	for _, store := range Stores {
		fs, err := copyTree(ctx, filepath.Join(s.opt.DataDir, store), partial, filepath.Join("files", store))
		if err != nil {
			return nil, err
		}
		m.Files = append(m.Files, fs...)
	}
	return m, WriteManifest(partial, m)
}

func tableCounts(ctx context.Context, d *db.DB) (map[string]int64, error) {
	tables, err := d.Tables(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]int64{}
	for _, t := range tables {
		if out[t], err = d.CountRows(ctx, t); err != nil {
			return nil, fmt.Errorf("count %s: %w", t, err)
		}
	}
	return out, nil
}

// copyTree copies the files under src (if it exists) to dst/rel and
// returns them with their digests; an upload's temporary file is skipped.
func copyTree(ctx context.Context, src, dst, rel string) ([]File, error) {
	var out []File
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) && p == src {
			return filepath.SkipDir
		}
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.IsDir() || !d.Type().IsRegular() || strings.HasPrefix(d.Name(), ".") {
			return nil
		}
		r, _ := filepath.Rel(src, p)
		name := filepath.ToSlash(filepath.Join(rel, r))
		if err := mkdirUnder(dst, filepath.Dir(name)); err != nil {
			return err
		}
		if err := db.CopyFile(p, filepath.Join(dst, name)); err != nil {
			return err
		}
		f, err := digestFile(dst, name)
		out = append(out, f)
		return err
	})
	return out, err
}

// mkdirUnder creates rel under root, which must still exist: a target
// that vanished is an error, not something to build again half-filled.
func mkdirUnder(root, rel string) error {
	if _, err := os.Stat(root); err != nil {
		return fmt.Errorf("备份目录在备份过程中消失 (the backup directory disappeared): %w", err)
	}
	return os.MkdirAll(filepath.Join(root, rel), 0o750)
}

func digestFile(dir, name string) (File, error) {
	f, err := os.Open(filepath.Join(dir, filepath.FromSlash(name)))
	if err != nil {
		return File{}, err
	}
	defer func() { _ = f.Close() }()
	h := sm3.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return File{}, err
	}
	return File{Path: name, Size: n, SM3: hex.EncodeToString(h.Sum(nil))}, nil
}

// WriteManifest writes m and its SM3 digest into dir.
func WriteManifest(dir string, m *Manifest) error {
	sort.Slice(m.Files, func(i, j int) bool { return m.Files[i].Path < m.Files[j].Path })
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	if err := writeSynced(filepath.Join(dir, ManifestFile), append(b, '\n')); err != nil {
		return err
	}
	sum := sm3.Sum(append(b, '\n'))
	return writeSynced(filepath.Join(dir, DigestFile), []byte(hex.EncodeToString(sum[:])+"\n"))
}

func writeSynced(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o640)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func readDigest(dir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, DigestFile))
	return strings.TrimSpace(string(b)), err
}

// ReadManifest reads a backup's manifest after checking it against its
// digest, and checks every file it names.
func ReadManifest(dir string) (*Manifest, error) {
	b, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if err != nil {
		return nil, fmt.Errorf("%w: 读不到清单 %s (no manifest): %w", ErrCorrupt, ManifestFile, err)
	}
	want, err := readDigest(dir)
	if err != nil {
		return nil, fmt.Errorf("%w: 读不到清单摘要 %s (no manifest digest): %w", ErrCorrupt, DigestFile, err)
	}
	sum := sm3.Sum(b)
	if hex.EncodeToString(sum[:]) != want {
		return nil, fmt.Errorf("%w: 清单的 SM3 摘要不符 (manifest digest mismatch)", ErrCorrupt)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%w: 清单无法读取 (manifest unreadable): %w", ErrCorrupt, err)
	}
	if m.Format != format {
		return nil, fmt.Errorf("%w: 清单格式 %d 不受支持 (unknown manifest format)", ErrCorrupt, m.Format)
	}
	for _, f := range m.Files {
		got, err := digestFile(dir, f.Path)
		if err != nil {
			return nil, fmt.Errorf("%w: 缺少文件 %s (file missing): %w", ErrCorrupt, f.Path, err)
		}
		if got.Size != f.Size || got.SM3 != f.SM3 {
			return nil, fmt.Errorf("%w: 文件 %s 的 SM3 摘要与清单不符 (file digest mismatch)", ErrCorrupt, f.Path)
		}
	}
	return &m, nil
}
