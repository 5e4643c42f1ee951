package db

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
)

// migrateRiver brings River's tables (the job queue of platform/jobs) up to
// the version of the River this binary carries. River numbers its own
// migrations, so they are not in schema_migrations; they run after ours,
// every start, and do nothing when current.
func (db *DB) migrateRiver(ctx context.Context) error {
	var err error
	if db.Dialect == Postgres {
		var m *rivermigrate.Migrator[*sql.Tx]
		if m, err = rivermigrate.New(riverdatabasesql.New(db.w), nil); err == nil {
			_, err = m.Migrate(ctx, rivermigrate.DirectionUp, nil)
		}
	} else {
		var m *rivermigrate.Migrator[*sql.Tx]
		if m, err = rivermigrate.New(riversqlite.New(db.w), nil); err == nil {
			_, err = m.Migrate(ctx, rivermigrate.DirectionUp, nil)
		}
	}
	if err != nil {
		return fmt.Errorf("job queue (River) migrations: %w", err)
	}
	return nil
}

// TxOf returns the transaction ctx carries. It exists for platform/jobs,
// which inserts and completes jobs inside the caller's transaction; every
// other package goes through WithTx, Exec and Query.
func TxOf(ctx context.Context) (*sql.Tx, bool) {
	tx, ok := ctx.Value(txKey{}).(*sql.Tx)
	return tx, ok
}
