package postgres

import (
	"context"

	"github.com/jackc/pgx/v5/pgxpool"
)

// MigrateTo brings the database named by dsn to schema version v only, as a
// coordinator of that version would have left it.
func MigrateTo(ctx context.Context, dsn string, v int) error {
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		return err
	}
	defer pool.Close()
	return migrateTo(ctx, pool, v)
}
