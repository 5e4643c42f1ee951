package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net"
	"net/http"
	"time"

	"jifen/internal/agencysim"
	"jifen/internal/check"
	"jifen/internal/platform/db"
)

func (a *App) buildCheck() {
	a.Connectors = check.NewConnectors(a.DB, check.StoredKeys(a.DB, a.Keys))
	a.Check = check.New(a.DB, a.Keys, a.Connectors, a.Clock, a.Audit, a.Log)
}

// StartAgencySim plays the partner agencies in-process for the demo: the
// simulator listens on a loopback port and every connector points at it
// with a fresh key, so the cross-check works out of the box.
func (a *App) StartAgencySim(ctx context.Context) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	kb := make([]byte, 24)
	_, _ = rand.Read(kb)
	key := hex.EncodeToString(kb)
	sim := agencysim.New(a.DB, []byte(key), "", a.Log)
	srv := &http.Server{Handler: sim.Handler(), ReadHeaderTimeout: 10 * time.Second}
	a.sim = srv
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.Log.Error("agencysim stopped", "err", err)
		}
	}()
	url := "http://" + ln.Addr().String()
	now := db.Micros(a.Clock.Now())
	for _, ag := range append(check.PersonAgencies, check.Market) {
		enc, err := a.Keys.EncryptString(key, check.KeyAD(ag))
		if err != nil {
			return err
		}
		if _, err := a.DB.Exec(ctx, `INSERT INTO agency_connectors (agency, base_url, key_enc, updated_at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (agency) DO UPDATE SET base_url = excluded.base_url, key_enc = excluded.key_enc, updated_at = excluded.updated_at`,
			ag, url, enc, now); err != nil {
			return err
		}
	}
	a.Connectors.Forget()
	a.Log.Info("agencysim playing the partner agencies (demo)", "addr", url)
	return nil
}
