package engine

import (
	"errors"
	"strings"
	"time"
)

// Stale metadata on failure: when a cached document has expired and the
// refetch fails for a reason that says nothing about the document (the
// server could not be reached, timed out, or answered 408, 429 or 5xx),
// the last good copy is used for a bounded grace period rather than
// failing every connection of the tenant during the provider's outage. A
// definitive answer (a document naming another issuer, 404 at every
// well-known URL, a body that is not a JSON object or too large) is never
// papered over: it is returned, and the stale copy is dropped with it.

const (
	// metadataStaleGrace is how long past its expiry a document may stand
	// in for one that cannot be fetched.
	metadataStaleGrace = 24 * time.Hour
	// metadataStaleRetry is how long a stale copy is served before the
	// next refetch is tried (one fetch per issuer per interval during an
	// outage, not one per connection).
	metadataStaleRetry = time.Minute
)

// transientMetadataError marks a discovery failure that may pass: a
// transport error, a timeout, or a 408, 429 or 5xx answer.
type transientMetadataError struct{ error }

func (t transientMetadataError) Unwrap() error { return t.error }

func transientStatus(status int) bool {
	return status == 408 || status == 429 || status >= 500
}

// staleMetadata returns the entry to cache in place of a failed fetch
// (err) when prev, the expired entry it was refreshing, may stand in for
// it; nil when the failure must be returned.
func (e *Engine) staleMetadata(issuer string, prev *metadataEntry, err error) *metadataEntry {
	var transient transientMetadataError
	now := e.now()
	if prev == nil || prev.err != nil || prev.md == nil || !errors.As(err, &transient) || !now.Before(prev.staleUntil) {
		return nil
	}
	if !prev.stale {
		// Once per outage: the entry served from here on is marked stale.
		e.logger.Warn("connspec: authorization server metadata could not be refetched; using the last good copy",
			"issuer", issuer, "expired", prev.expires.UTC().Format(time.RFC3339),
			"usable_until", prev.staleUntil.UTC().Format(time.RFC3339), "error", err.Error())
	}
	ent := &metadataEntry{done: make(chan struct{}), md: prev.md, stale: true, staleUntil: prev.staleUntil}
	ent.expires = now.Add(metadataStaleRetry)
	if prev.staleUntil.Before(ent.expires) {
		ent.expires = prev.staleUntil
	}
	close(ent.done)
	return ent
}

// staleUntilFor is how long a document fetched now with ttl may stand in
// for a failed refetch: none for no-store or no-cache (ttl 0), which ask
// not to keep it.
func staleUntilFor(expires time.Time, ttl time.Duration) time.Time {
	if ttl <= 0 {
		return expires
	}
	return expires.Add(metadataStaleGrace)
}

// issuerMismatchHint explains the mismatches that have a known cause.
// Microsoft Entra's multi-tenant metadata ("common", "organizations")
// names the issuer https://login.microsoftonline.com/{tenantid}/v2.0 with
// the placeholder written out, since each account's tokens carry their
// own tenant's issuer: it can never equal the configured one, and is
// refused like any other mismatch rather than matched as a template.
func issuerMismatchHint(got string) string {
	if strings.Contains(got, "{tenantid}") {
		return "; this is multi-tenant metadata with a {tenantid} placeholder: configure one tenant's issuer (its tenant ID) instead"
	}
	return ""
}
