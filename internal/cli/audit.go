package cli

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"jifen/internal/audit"
	"jifen/internal/config"
)

const auditUsage = `Usage:
  jifen audit verify   walk the hash chain and name the first broken row
  jifen audit purge    archive and purge rows older than 12 months now`

func runAudit(ctx context.Context, env Env, args []string) error {
	action, err := actionOf(env, args, auditUsage, "verify", "purge")
	if err != nil {
		return err
	}
	fs := flags("audit "+action, env, config.Store)
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	cfg, err := loadConfig(fs, env)
	if err != nil {
		return err
	}
	d, err := openDBOnly(ctx, cfg)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.CheckSchema(ctx); err != nil {
		return err
	}
	log := audit.New(d, systemClock{})
	switch action {
	case "verify":
		res, err := log.Verify(ctx)
		if err != nil {
			return err
		}
		if !res.OK() {
			fmt.Fprintf(env.Stdout, "BROKEN at audit row %d: %s (%d rows checked)\n", res.BrokenID, res.Problem, res.Rows)
			return fmt.Errorf("audit chain broken at row %d", res.BrokenID)
		}
		fmt.Fprintf(env.Stdout, "OK: %d rows, ids %d–%d, chain intact\n", res.Rows, res.FirstID, res.LastID)
	case "purge":
		ctx = cliActor(ctx)
		a, err := log.Purge(ctx, filepath.Join(cfg.DataDir, "audit-archive"), time.Now().Add(-audit.Retention))
		if err != nil {
			return err
		}
		if a.Rows == 0 {
			fmt.Fprintln(env.Stdout, "nothing older than 12 months")
			return nil
		}
		fmt.Fprintf(env.Stdout, "archived rows %d–%d (%d) to %s, SM3 %s, and purged them\n", a.FirstID, a.LastID, a.Rows, a.File, a.FileSM3)
	}
	return nil
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now().UTC() }
