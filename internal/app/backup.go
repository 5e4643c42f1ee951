package app

import "jifen/internal/backup"

// buildBackup makes the backup service (docs/operations.md, "Backups") and
// registers its schedule; JIFEN_BACKUP_EVERY=off registers none.
func (a *App) buildBackup() {
	a.Backup = backup.New(a.DB, a.Clock, backup.Options{DataDir: a.Cfg.DataDir, Dir: a.Cfg.Backup.Dir,
		Every: a.Cfg.Backup.Every, KeepWeekly: a.Cfg.Backup.KeepWeekly, KeepMonthly: a.Cfg.Backup.KeepMonthly,
		Version: Version, Log: a.Log})
	a.Backup.Register(a.Jobs)
}
