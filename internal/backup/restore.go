package backup

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"jifen/internal/platform/db"
)

// Errors of Restore.
var (
	ErrNotEmpty     = errors.New("目标数据库不是空的 (the target database is not empty)")
	ErrSchemaNewer  = errors.New("备份的数据库结构版本比本程序新 (the backup's schema is newer than this binary)")
	ErrEngineDiffer = errors.New("备份与目标数据库的类型不同 (the backup is of another database engine)")
)

// RestoreOptions say what to restore where.
type RestoreOptions struct {
	From    string // the backup's directory
	DSN     string // the target database (jifen's JIFEN_DB)
	DataDir string // where the attachment stores go
	Force   bool   // overwrite a database that has tables
}

// Restore puts the backup in opt.From back: it checks the manifest and
// every file's digest, refuses a backup of another engine or of a schema
// newer than this binary knows, refuses a target database that has tables
// unless Force, replaces the database and copies the attachment stores
// into the data directory (adding files, never removing one). The target
// is then held to the manifest as a drill holds its scratch copy. On
// SQLite nothing may have the database open.
func Restore(ctx context.Context, opt RestoreOptions) (*Manifest, DrillResult, error) {
	m, err := ReadManifest(opt.From)
	if err != nil {
		return nil, DrillResult{}, err
	}
	engine := db.EngineOf(opt.DSN)
	if m.Engine != engine {
		return m, DrillResult{}, fmt.Errorf("%w: 备份 %s，目标 %s", ErrEngineDiffer, m.Engine, engine)
	}
	latest, err := db.LatestSchema(engine)
	if err != nil {
		return m, DrillResult{}, err
	}
	if m.SchemaVersion > latest {
		return m, DrillResult{}, fmt.Errorf("%w: 备份为第 %d 版，本程序只认识到第 %d 版，请用生成该备份的或更新的 jifen 恢复 (restore with the jifen that made the backup, or newer)",
			ErrSchemaNewer, m.SchemaVersion, latest)
	}
	if err := refuseNonEmpty(ctx, opt.DSN, opt.Force); err != nil {
		return m, DrillResult{}, err
	}
	if err := db.RestoreFile(ctx, opt.DSN, filepath.Join(opt.From, m.Database)); err != nil {
		return m, DrillResult{}, fmt.Errorf("恢复数据库失败 (database restore failed): %w", err)
	}
	if err := restoreFiles(opt.From, opt.DataDir, m); err != nil {
		return m, DrillResult{}, fmt.Errorf("恢复附件失败 (restoring the attachment stores failed): %w", err)
	}
	d, err := db.Open(ctx, opt.DSN)
	if err != nil {
		return m, DrillResult{}, err
	}
	defer func() { _ = d.Close() }()
	res := check(ctx, d, m)
	if !res.OK {
		return m, res, fmt.Errorf("恢复后的数据库与清单不符 (restored database does not match the manifest): %s", res.Detail)
	}
	return m, res, nil
}

func refuseNonEmpty(ctx context.Context, dsn string, force bool) error {
	d, err := db.Open(ctx, dsn)
	if err != nil {
		return err
	}
	defer func() { _ = d.Close() }()
	tables, err := d.Tables(ctx)
	if err != nil {
		return err
	}
	if len(tables) > 0 && !force {
		return fmt.Errorf("%w：已有 %d 张表，确认要覆盖请加 --force (add --force to overwrite it)", ErrNotEmpty, len(tables))
	}
	return nil
}

// restoreFiles copies the backup's files/ tree into the data directory.
// Blobs are named by content, so a file already there is the same file.
func restoreFiles(from, dataDir string, m *Manifest) error {
	for _, f := range m.Files {
		rel, ok := strings.CutPrefix(f.Path, "files/")
		if !ok {
			continue
		}
		dst := filepath.Join(dataDir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(dst), 0o750); err != nil {
			return err
		}
		tmp := dst + ".restore"
		if err := db.CopyFile(filepath.Join(from, filepath.FromSlash(f.Path)), tmp); err != nil {
			_ = os.Remove(tmp)
			return err
		}
		if err := os.Rename(tmp, dst); err != nil {
			return err
		}
	}
	return nil
}
