package backup

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"jifen/internal/audit"
	"jifen/internal/platform/clock"
	"jifen/internal/platform/db"
)

// DrillResult is what a restore drill found.
type DrillResult struct {
	OK     bool
	Detail string // the first problem, or a summary of what was checked
}

// Status is the result as stored in backup_runs.
func (r DrillResult) Status() string {
	if r.OK {
		return StatusOK
	}
	return StatusFailed
}

func failed(format string, args ...any) DrillResult {
	return DrillResult{Detail: fmt.Sprintf(format, args...)}
}

// Drill checks the backup in dir as a restore would use it: the manifest
// and every file against their SM3 digests, then the database restored
// into a scratch database, each table's row count against the manifest
// and the audit chain verified there. The scratch database is dropped.
func (s *Service) Drill(ctx context.Context, dir string) DrillResult {
	m, err := ReadManifest(dir)
	if err != nil {
		return failed("%v", err)
	}
	if m.Engine != s.db.Engine() {
		return failed("备份来自 %s 数据库，本系统使用 %s (backup is of another engine)", m.Engine, s.db.Engine())
	}
	// Beside the backups, not in /tmp: the scratch copy is as large as the
	// database, and /tmp is often a small RAM disk.
	tmp, err := os.MkdirTemp(filepath.Dir(filepath.Clean(dir)), ".drill-")
	if err != nil {
		return failed("无法创建演练临时目录 (cannot create the drill's scratch directory): %v", err)
	}
	defer func() { _ = os.RemoveAll(tmp) }()
	scratch, drop, err := s.db.RestoreScratch(ctx, filepath.Join(dir, m.Database), tmp)
	if err != nil {
		return failed("恢复到演练数据库失败 (restore into the scratch database failed): %v", err)
	}
	defer drop()
	return check(ctx, scratch, m)
}

// check holds a restored database to its manifest: the same tables with
// the same row counts, and a whole audit chain ending at the same head.
func check(ctx context.Context, d *db.DB, m *Manifest) DrillResult {
	got, err := tableCounts(ctx, d)
	if err != nil {
		return failed("统计恢复后的行数失败 (counting rows failed): %v", err)
	}
	names := make([]string, 0, len(m.Tables))
	for t := range m.Tables {
		names = append(names, t)
	}
	sort.Strings(names)
	for _, t := range names {
		n, ok := got[t]
		if !ok {
			return failed("恢复后缺少表 %s (table missing after restore)", t)
		}
		if n != m.Tables[t] {
			return failed("表 %s 恢复后有 %d 行，清单记录 %d 行 (row count differs)", t, n, m.Tables[t])
		}
	}
	res, err := audit.New(d, clock.System{}).Verify(ctx)
	if err != nil {
		return failed("审计链校验出错 (audit verify error): %v", err)
	}
	if !res.OK() {
		return failed("审计链在第 %d 行断开：%s (audit chain broken)", res.BrokenID, res.Problem)
	}
	var head AuditHead
	err = d.QueryRow(ctx, `SELECT last_id, last_hash FROM audit_head WHERE id = 1`).Scan(&head.ID, &head.Hash)
	if err != nil && !db.IsNoRows(err) {
		return failed("读取审计链头出错 (reading the audit head failed): %v", err)
	}
	if head != m.AuditHead {
		return failed("审计链末行 %d 与清单记录的 %d 不符 (audit head differs)", head.ID, m.AuditHead.ID)
	}
	return DrillResult{OK: true, Detail: fmt.Sprintf("%d 张表 %d 行与清单一致，审计链完整（%d 行）(tables, rows and audit chain match)",
		len(m.Tables), m.Rows(), res.Rows)}
}
