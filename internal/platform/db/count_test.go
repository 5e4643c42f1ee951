package db_test

import (
	"context"
	"testing"

	"jifen/internal/platform/db"
	"jifen/internal/platform/db/dbtest"
)

func TestQueryCounterCountsStatementsOfItsContextOnly(t *testing.T) {
	d := dbtest.Open(t)
	ctx, c := db.CountQueries(context.Background())
	if _, err := d.Exec(ctx, `INSERT INTO settings (key, value, updated_at) VALUES ($1, $2, $3)`, "k", "v", 1); err != nil {
		t.Fatal(err)
	}
	var v string
	if err := d.QueryRow(ctx, `SELECT value FROM settings WHERE key = $1`, "k").Scan(&v); err != nil {
		t.Fatal(err)
	}
	rows, err := d.Query(ctx, `SELECT key FROM settings`)
	if err != nil {
		t.Fatal(err)
	}
	rows.Close()
	// Inside a transaction too; a context without the counter is not counted.
	err = d.WithTx(ctx, func(ctx context.Context) error {
		_, err := d.Exec(ctx, `UPDATE settings SET value = $1 WHERE key = $2`, "w", "k")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.QueryRow(context.Background(), `SELECT value FROM settings WHERE key = $1`, "k").Scan(&v); err != nil {
		t.Fatal(err)
	}
	if c.N() != 4 {
		t.Fatalf("counted %d statements, want 4", c.N())
	}
}
