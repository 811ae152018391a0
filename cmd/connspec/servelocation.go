package main

import (
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// keyFilePath is the secret key file serve and rekey use: --key-file, or
// secret.key in dir.
func keyFilePath(keyFile, dir string) string {
	if keyFile == "" {
		return filepath.Join(dir, "secret.key")
	}
	return keyFile
}

// sqlitePath is the SQLite file of a --db that is empty or sqlite:PATH.
func sqlitePath(db, dir string) string {
	if path := strings.TrimPrefix(db, "sqlite:"); path != "" {
		return path
	}
	return filepath.Join(dir, "connspec.db")
}

// storeLocation says where the store of --db is, for the startup log: the
// SQLite file's absolute path, or the PostgreSQL URL with no password and
// no query (a password may sit in either).
func storeLocation(db, dir string) string {
	if storeKind(db) == "sqlite" {
		return absPath(sqlitePath(db, dir))
	}
	u, err := url.Parse(db)
	if err != nil {
		return "postgres (unparsable URL not shown)"
	}
	loc := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}
	if u.User != nil && u.User.Username() != "" {
		loc.User = url.User(u.User.Username())
	}
	return loc.String()
}

// keyLocation says where the secret key comes from, for the startup log: the
// environment variable, or the key file's absolute path.
func keyLocation(keyFile, dir string) string {
	if strings.TrimSpace(os.Getenv("CONNSPEC_SECRET_KEY")) != "" {
		return "$CONNSPEC_SECRET_KEY"
	}
	return absPath(keyFilePath(keyFile, dir))
}

// absPath makes a log line useful from any working directory.
func absPath(p string) string {
	if abs, err := filepath.Abs(p); err == nil {
		return abs
	}
	return p
}
