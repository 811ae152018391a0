package store

import (
	"context"
	"fmt"
)

// sealedColumn is a column the SQL stores seal, with the associated data
// that binds a value to its row.
type sealedColumn struct {
	table, column string
	aad           func(id string) string
}

var sealedColumns = []sealedColumn{
	{"connections", "credentials", func(id string) string { return id }},
	{"connection_info", "input", inputAAD},
}

type sealedValue struct{ id, sealed string }

// rekeyTarget is what rekey needs from a SQL store.
type rekeyTarget interface {
	sealedValues(ctx context.Context, table, column string) ([]sealedValue, error)
	// replaceSealed writes sealed where the row still holds old, and
	// reports whether it did.
	replaceSealed(ctx context.Context, table, column, id, old, sealed string) (bool, error)
}

// rekey re-seals with c's current key every value of sealedColumns sealed
// with an older one, and returns how many it re-sealed. A row changed
// meanwhile is left alone: a newer write is sealed with the current key.
func rekey(ctx context.Context, c *Cipher, t rekeyTarget) (int, error) {
	n := 0
	for _, col := range sealedColumns {
		values, err := t.sealedValues(ctx, col.table, col.column)
		if err != nil {
			return n, err
		}
		for _, v := range values {
			if c.sealedWithCurrent(v.sealed) {
				continue
			}
			plain, err := c.Open(v.sealed, col.aad(v.id))
			if err != nil {
				return n, fmt.Errorf("store: %s of connection %s: %w", col.column, v.id, err)
			}
			sealed, err := c.Seal(plain, col.aad(v.id))
			if err != nil {
				return n, err
			}
			done, err := t.replaceSealed(ctx, col.table, col.column, v.id, v.sealed, sealed)
			if err != nil {
				return n, err
			}
			if done {
				n++
			}
		}
	}
	return n, nil
}
