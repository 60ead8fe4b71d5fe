// Package sqlml registers database/sql drivers (on mattn/go-sqlite3) whose every connection has
// the sqlml SQLite extension loaded and, with a key, unlocked.
//
// database/sql pools connections and an sqlml key is per connection: unlocking one connection
// with `SELECT ml_unlock(?)` leaves the others locked, and their calls fail now and then with
// "no key for this database". A driver registered here runs the unlock in a ConnectHook, so
// every connection the pool opens is ready:
//
//	db, err := sqlml.Open("app.db?_busy_timeout=5000", sqlml.Options{Key: os.Getenv("APP_SQLML_KEY")})
//	var queue string
//	err = db.QueryRow("SELECT ml_predict('router', ?)", "I was charged twice").Scan(&queue)
//
// The released package embeds the extension for linux/amd64 (glibc >= 2.17) and writes it once
// to the user's cache directory; Options.Extension or the environment variable SQLML_EXT names
// another file. Build with cgo (mattn/go-sqlite3); in GOPATH mode with Debian's packages:
// GO111MODULE=off GOPATH=$HOME/go:/usr/share/gocode go build.
package sqlml

import (
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"

	sqlite3 "github.com/mattn/go-sqlite3"
)

// Version is the sqlml version this package was released with (the extension's ml_version()).
var Version = "0.0.0-dev"

// Options say where the extension is and how each connection is unlocked.
type Options struct {
	// Extension is the path of libsqlml0.so. Empty: the environment variable SQLML_EXT, else
	// the library embedded in this package.
	Extension string
	// Key is the passphrase every new connection is unlocked with (ml_unlock with a bound
	// parameter; on a database without a key record this creates the key). Empty: connections
	// are not unlocked here, and the extension falls back to the environment variable SQLML_KEY.
	Key string
	// ConnectHook, if set, runs on each new connection after sqlml is loaded and unlocked.
	ConnectHook func(*sqlite3.SQLiteConn) error
}

// Driver returns a go-sqlite3 driver that loads sqlml into each connection and unlocks it.
func Driver(opts Options) (*sqlite3.SQLiteDriver, error) {
	ext, err := extensionPath(opts.Extension)
	if err != nil {
		return nil, err
	}
	key := opts.Key
	hook := opts.ConnectHook
	return &sqlite3.SQLiteDriver{
		Extensions: []string{ext},
		ConnectHook: func(conn *sqlite3.SQLiteConn) error {
			if key != "" {
				if err := Unlock(conn, key); err != nil {
					return err
				}
			}
			if hook != nil {
				return hook(conn)
			}
			return nil
		},
	}, nil
}

// Unlock runs `SELECT ml_unlock(?)` with key on one connection.
func Unlock(conn *sqlite3.SQLiteConn, key string) error {
	rows, err := conn.Query("SELECT ml_unlock(?)", []driver.Value{key})
	if err != nil {
		return fmt.Errorf("sqlml: unlock: %w", err)
	}
	defer rows.Close()
	dest := make([]driver.Value, 1)
	if err := rows.Next(dest); err != nil {
		return fmt.Errorf("sqlml: unlock: %w", err)
	}
	return nil
}

var registerMu sync.Mutex

// Register registers the driver under name (for sql.Open(name, dsn)). It fails, instead of
// panicking as sql.Register does, when the name is taken.
func Register(name string, opts Options) error {
	registerMu.Lock()
	defer registerMu.Unlock()
	for _, d := range sql.Drivers() {
		if d == name {
			return fmt.Errorf("sqlml: a database/sql driver named %q is already registered", name)
		}
	}
	drv, err := Driver(opts)
	if err != nil {
		return err
	}
	sql.Register(name, drv)
	return nil
}

var opened uint64

// Open registers a driver of its own for opts and opens dsn with it (a go-sqlite3 DSN:
// "file.db", "file:app.db?mode=ro&_busy_timeout=5000"...). The first connection is opened
// at once, so a missing extension or a wrong key is an error here, not at the first query.
func Open(dsn string, opts Options) (*sql.DB, error) {
	drv, err := Driver(opts)
	if err != nil {
		return nil, err
	}
	name := fmt.Sprintf("sqlml-%d", atomic.AddUint64(&opened, 1))
	registerMu.Lock()
	sql.Register(name, drv)
	registerMu.Unlock()
	db, err := sql.Open(name, dsn)
	if err != nil {
		return nil, err
	}
	if err := db.Ping(); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// ErrNoLibrary: no extension was named and this build embeds none.
var ErrNoLibrary = errors.New("sqlml: no extension: set Options.Extension or SQLML_EXT to libsqlml0.so " +
	"(this build of the package embeds no library for this platform)")

// LoadablePath is the path of the extension this package loads when Options.Extension is
// empty: SQLML_EXT, else the embedded library (written out on first use).
func LoadablePath() (string, error) { return extensionPath("") }

func extensionPath(explicit string) (string, error) {
	path := explicit
	if path == "" {
		path = os.Getenv("SQLML_EXT")
	}
	if path != "" {
		if _, err := os.Stat(path); err != nil {
			return "", fmt.Errorf("sqlml: extension: %w", err)
		}
		return path, nil
	}
	return embeddedPath()
}
