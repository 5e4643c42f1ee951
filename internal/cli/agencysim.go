package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"jifen/internal/agency"
	"jifen/internal/agencysim"
	"jifen/internal/config"
	"jifen/internal/platform/db"
)

func runAgencysim(ctx context.Context, env Env, args []string) error {
	fs := flags("agencysim", env, config.Store|config.Log)
	addr := fs.String("addr", "127.0.0.1:9300", "listen address of the simulated agencies")
	key := fs.String("agency-key", "", "shared key that signs requests (env JIFEN_AGENCY_KEY)")
	adminKey := fs.String("admin-key", "", "key of the settings endpoint /admin (env JIFEN_AGENCYSIM_ADMIN_KEY)")
	faults := fs.String("faults", "", `JSON file of faults per agency, e.g. {"tax": {"latency_ms": 200, "error_rate": 0.05}}`)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *key == "" {
		*key = env.Getenv("JIFEN_AGENCY_KEY")
	}
	if *adminKey == "" {
		*adminKey = env.Getenv("JIFEN_AGENCYSIM_ADMIN_KEY")
	}
	if len(*key) < 16 {
		return errors.New("--agency-key (or JIFEN_AGENCY_KEY) of at least 16 characters is required")
	}
	cfg, err := loadConfig(fs, env)
	if err != nil {
		return err
	}
	d, err := db.Open(ctx, cfg.DB)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.CheckSchema(ctx); err != nil {
		return err
	}
	sim := agencysim.New(d, []byte(*key), *adminKey, newLogger(cfg, env.Stderr))
	if *faults != "" {
		b, err := os.ReadFile(*faults)
		if err != nil {
			return err
		}
		var m map[string]agencysim.Faults
		if err := json.Unmarshal(b, &m); err != nil {
			return fmt.Errorf("--faults: %w", err)
		}
		for a, f := range m {
			if err := sim.SetFaults(a, f); err != nil {
				return fmt.Errorf("--faults: %w", err)
			}
		}
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: sim.Handler(), ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() { <-ctx.Done(); _ = srv.Shutdown(context.Background()) }()
	fmt.Fprintf(env.Stdout, "agencysim: %d agencies on http://%s (records from %s)\n", len(agency.Codes()), ln.Addr(), d)
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
