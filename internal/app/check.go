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
	a.Connectors = check.NewConnectors(a.DB, func(ctx context.Context, agency string) ([]byte, error) {
		key, err := a.AgencyOps.Key(ctx, agency)
		if err == nil && key == "" {
			err = errors.New("no signing key configured for " + agency)
		}
		return []byte(key), err
	})
	a.Check = check.New(a.DB, a.Keys, a.Connectors, a.Clock, a.Audit, a.Log, check.Owners{
		Applications: a.Cases.Applications, Discrepancies: a.Cases.Discrepancies, Employers: a.Cases.Employers})
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
	if err := check.PointAll(ctx, a.DB, a.Keys, url, key, 0, 0, db.Micros(a.Clock.Now())); err != nil {
		return err
	}
	a.Connectors.Forget()
	a.Log.Info("agencysim playing the partner agencies (demo)", "addr", url)
	return nil
}
