package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"jifen/internal/app"
	"jifen/internal/backup"
	"jifen/internal/config"
	"jifen/internal/platform/crypto"
)

// runBackup makes a full backup and drills it: for scripts, exit 0 means
// both succeeded.
func runBackup(ctx context.Context, env Env, args []string) error {
	fs := flags("backup", env, operatorConfig)
	to := fs.String("to", "", "directory to write the backup under (default JIFEN_BACKUP_DIR, else <data-dir>/backups)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	return withApp(ctx, env, fs, func(ctx context.Context, a *app.App) error {
		dir := *to
		if dir == "" {
			dir = a.Cfg.Backup.Dir
		}
		run, m, err := a.Backup.Backup(ctx, dir)
		if run != nil && run.Dir != "" && m != nil {
			fmt.Fprintf(env.Stdout, "backup   %s\nengine   %s, schema version %d\nfiles    %d, %d bytes\ntables   %d, %d rows\naudit    head id %d\nmanifest SM3 %s\n",
				run.Dir, m.Engine, m.SchemaVersion, len(m.Files), m.Size(), len(m.Tables), m.Rows(), m.AuditHead.ID, run.ManifestSM3)
			fmt.Fprintf(env.Stdout, "drill    %s: %s\n", run.DrillStatus, run.DrillDetail)
			fmt.Fprintln(env.Stdout, "master key: NOT in the backup — keep a copy of it apart from the backups (docs/operations.md)")
		}
		return err
	})
}

// runRestore puts a backup back into the configured database and data
// directory. It opens no application: nothing may hold the database.
func runRestore(ctx context.Context, env Env, args []string) error {
	fs := flags("restore", env, config.Store)
	from := fs.String("from", "", "the backup's directory (required), e.g. data/backups/20261130T020000Z")
	force := fs.Bool("force", false, "overwrite a database that already has tables")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *from == "" {
		return errors.New("--from 必填：要恢复的备份目录 (--from is required: the backup's directory)")
	}
	cfg, err := loadConfig(fs, env)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return err
	}
	m, res, err := backup.Restore(ctx, backup.RestoreOptions{From: *from, DSN: cfg.DB, DataDir: cfg.DataDir, Force: *force})
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "restored %s (%s, schema version %d, made %s)\nchecked  %s\n",
		*from, m.Engine, m.SchemaVersion, m.CreatedAt.Format("2006-01-02 15:04:05Z"), res.Detail)
	if cfg.MasterKey == "" {
		if _, err := os.Stat(filepath.Join(cfg.DataDir, crypto.MasterKeyFile)); err != nil {
			fmt.Fprintf(env.Stderr, "注意：数据目录中没有主密钥。启动前请放回原系统的主密钥（JIFEN_MASTER_KEY 或 %s），否则加密的数据无法读取。\n"+
				"warning: no master key in the data dir; put the original one back before starting, or encrypted data is unreadable\n",
				filepath.Join(cfg.DataDir, crypto.MasterKeyFile))
		}
	}
	return nil
}
