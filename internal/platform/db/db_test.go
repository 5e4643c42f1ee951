package db_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"jifen/internal/platform/db"
	"jifen/internal/platform/db/dbtest"
)

func TestMigrationsSameVersionsOnBothDialects(t *testing.T) {
	a, err := db.Migrations(db.SQLite)
	if err != nil {
		t.Fatal(err)
	}
	b, err := db.Migrations(db.Postgres)
	if err != nil {
		t.Fatal(err)
	}
	if len(a) == 0 || len(a) != len(b) {
		t.Fatalf("sqlite has %d migrations, postgres %d", len(a), len(b))
	}
	for i := range a {
		if a[i].Version != b[i].Version || a[i].Name != b[i].Name {
			t.Errorf("migration %d: sqlite %s, postgres %s", i, a[i].Name, b[i].Name)
		}
	}
}

func TestMigrateIsIdempotentAndSchemaChecked(t *testing.T) {
	ctx := context.Background()
	dsn := dbtest.DSN(t)
	d, err := db.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.CheckSchema(ctx); err == nil {
		t.Fatal("CheckSchema on an empty database: want an error")
	}
	applied, err := d.Migrate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(applied) == 0 {
		t.Fatal("nothing applied on an empty database")
	}
	if err := d.CheckSchema(ctx); err != nil {
		t.Fatalf("CheckSchema after migrate: %v", err)
	}
	again, err := d.Migrate(ctx)
	if err != nil || len(again) != 0 {
		t.Fatalf("second migrate: applied %v, err %v", again, err)
	}
	// A version this binary does not know (written by a newer binary).
	if _, err := d.Exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`, 9999, "9999_future.sql", 1); err != nil {
		t.Fatal(err)
	}
	if err := d.CheckSchema(ctx); err == nil {
		t.Fatal("CheckSchema with an unknown newer version: want an error")
	}
}

func TestWithTxJoinsOuterAndRollsBack(t *testing.T) {
	ctx := context.Background()
	d := dbtest.Open(t)
	insert := func(ctx context.Context, k string) error {
		_, err := d.Exec(ctx, `INSERT INTO settings (key, value, updated_at) VALUES ($1, $2, $3)`, k, "v", 1)
		return err
	}
	boom := errors.New("boom")
	err := d.WithTx(ctx, func(ctx context.Context) error {
		if err := insert(ctx, "a"); err != nil {
			return err
		}
		// The inner call joins the outer transaction: its write is undone
		// with the outer one.
		if err := d.WithTx(ctx, func(ctx context.Context) error { return insert(ctx, "b") }); err != nil {
			return err
		}
		var n int
		if err := d.QueryRow(ctx, `SELECT count(*) FROM settings`).Scan(&n); err != nil || n != 2 {
			t.Errorf("inside tx: %d rows, err %v", n, err)
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want boom", err)
	}
	var n int
	if err := d.QueryRow(ctx, `SELECT count(*) FROM settings`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("after rollback: %d rows, err %v", n, err)
	}
	if err := d.WithTx(ctx, func(ctx context.Context) error { return insert(ctx, "c") }); err != nil {
		t.Fatal(err)
	}
	err = d.WithTx(ctx, func(ctx context.Context) error { return insert(ctx, "c") })
	if !db.IsUniqueViolation(err) {
		t.Fatalf("duplicate key: %v is not a unique violation", err)
	}
}

func TestPlaceholdersInOrderBindOnBothEngines(t *testing.T) {
	ctx := context.Background()
	d := dbtest.Open(t)
	var a, b string
	// $1 used twice, $2 once: both engines must bind the same values.
	if err := d.QueryRow(ctx, `SELECT $1 || '-' || $2 || '-' || $1`, "x", "y").Scan(&a); err != nil {
		t.Fatal(err)
	}
	if a != "x-y-x" {
		t.Fatalf("got %q", a)
	}
	if err := d.QueryRow(ctx, `SELECT CAST($1 AS TEXT)`, "z").Scan(&b); err != nil || b != "z" {
		t.Fatalf("got %q, %v", b, err)
	}
}

func TestBatchCommitsEachWriteOnceAndIsolatesFailures(t *testing.T) {
	ctx := context.Background()
	d := dbtest.Open(t)
	const n = 200
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		go func(i int) {
			errs <- d.Batch(ctx, func(ctx context.Context) error {
				if i%10 == 0 {
					// Written, then failed: undone alone.
					if _, err := d.Exec(ctx, `INSERT INTO settings (key, value, updated_at) VALUES ($1, 'x', 1)`, fmt.Sprintf("bad%d", i)); err != nil {
						return err
					}
					return errors.New("refused")
				}
				_, err := d.Exec(ctx, `INSERT INTO settings (key, value, updated_at) VALUES ($1, 'v', 1)`, fmt.Sprintf("k%d", i))
				return err
			})
		}(i)
	}
	failed := 0
	for i := 0; i < n; i++ {
		if err := <-errs; err != nil {
			failed++
		}
	}
	var good, bad int
	if err := d.QueryRow(ctx, `SELECT count(*) FROM settings WHERE key LIKE 'k%'`).Scan(&good); err != nil {
		t.Fatal(err)
	}
	if err := d.QueryRow(ctx, `SELECT count(*) FROM settings WHERE key LIKE 'bad%'`).Scan(&bad); err != nil {
		t.Fatal(err)
	}
	if failed != n/10 || good != n-n/10 || bad != 0 {
		t.Fatalf("failed %d, written %d, failed-but-kept %d", failed, good, bad)
	}
}

// Placeholders are PostgreSQL's on both engines: any order, reused, inside
// a transaction or not.
func TestPlaceholdersBindByNumber(t *testing.T) {
	d := dbtest.Open(t)
	ctx := context.Background()
	var a, b, c string
	if err := d.QueryRow(ctx, "SELECT CAST($2 AS TEXT), CAST($1 AS TEXT), CAST($2 AS TEXT) || '$1'", "one", "two").Scan(&a, &b, &c); err != nil {
		t.Fatal(err)
	}
	if a != "two" || b != "one" || c != "two$1" {
		t.Fatalf("got %q %q %q", a, b, c)
	}
	err := d.WithTx(ctx, func(ctx context.Context) error {
		return d.QueryRow(ctx, "SELECT CAST($3 AS TEXT), CAST($1 AS TEXT) WHERE CAST($2 AS TEXT) = 'y'", "x", "y", "z").Scan(&a, &b)
	})
	if err != nil || a != "z" || b != "x" {
		t.Fatalf("in tx: %q %q %v", a, b, err)
	}
}

func TestJSONRows(t *testing.T) {
	d := dbtest.Open(t)
	ctx := context.Background()
	rows, err := d.Query(ctx, `SELECT r.id, r.name, r.ok FROM `+d.JSONRows("$1", "id BIGINT", "name TEXT", "ok BOOLEAN")+` r ORDER BY r.id`,
		`[{"id":2,"name":"乙","ok":false},{"id":1,"name":"it's","ok":true}]`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var id int64
		var name string
		var ok bool
		if err := rows.Scan(&id, &name, &ok); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%d %s %v", id, name, ok))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if want := "[1 it's true 2 乙 false]"; fmt.Sprint(got) != want {
		t.Fatalf("got %v, want %s", got, want)
	}
}

func TestJSONIDs(t *testing.T) {
	d := dbtest.Open(t)
	var n, sum int64
	if err := d.QueryRow(context.Background(), `SELECT COUNT(*), SUM(r.id) FROM `+d.JSONIDs("$1")+` r`, "[3,4,5]").Scan(&n, &sum); err != nil {
		t.Fatal(err)
	}
	if n != 3 || sum != 12 {
		t.Fatalf("count %d sum %d", n, sum)
	}
}
