package server

import (
	"crypto/sha256"
	"sync"
	"time"

	"github.com/connspec/connspec/engine/store"
)

// keyCacheMax bounds the stored keys a server remembers as checked.
const keyCacheMax = 4096

// keyCache remembers, for Config.RecheckAfter, the stored API keys a server
// has checked against the store, by the SHA-256 of the key presented: a
// request with such a key reads nothing from the store (on SQLite, that
// read was the largest cost of a proxied request). Only keys found good are
// kept, never the key itself. A key revoked through this server is
// forgotten at once; revoked through another server or the CLI, it is
// refused here within RecheckAfter, like a deleted connection.
type keyCache struct {
	mu sync.Mutex
	m  map[[sha256.Size]byte]cachedKey
}

type cachedKey struct {
	key     store.APIKey
	checked time.Time
}

// get returns the key record checked for sum within ttl.
func (c *keyCache) get(sum [sha256.Size]byte, ttl time.Duration) (store.APIKey, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[sum]
	if !ok || time.Since(e.checked) >= ttl {
		return store.APIKey{}, false
	}
	return e.key, true
}

// put remembers k, just checked good for sum; a full cache sheds what has
// expired, and all of it when nothing has.
func (c *keyCache) put(sum [sha256.Size]byte, k store.APIKey, ttl time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[[sha256.Size]byte]cachedKey{}
	}
	if _, ok := c.m[sum]; !ok && len(c.m) >= keyCacheMax {
		for s, e := range c.m {
			if time.Since(e.checked) >= ttl {
				delete(c.m, s)
			}
		}
		if len(c.m) >= keyCacheMax {
			clear(c.m)
		}
	}
	c.m[sum] = cachedKey{key: k, checked: time.Now()}
}

// touched records that k's use was written at t, so that requests within
// the cache's time do not write it again.
func (c *keyCache) touched(sum [sha256.Size]byte, t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[sum]; ok {
		e.key.LastUsedAt = t
		c.m[sum] = e
	}
}

// forget drops the key with this id (revoked through this server).
func (c *keyCache) forget(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for s, e := range c.m {
		if e.key.ID == id {
			delete(c.m, s)
		}
	}
}
