//go:build sqlite_cgo

package sqlite

import (
	"database/sql"
	"database/sql/driver"
	"fmt"
	"net/url"
	"strings"

	sqlite3 "github.com/mattn/go-sqlite3"
)

// Driver names the SQLite driver this binary was built with.
const Driver = "github.com/mattn/go-sqlite3 (cgo)"

// BuildTags are the build tags that select this driver (tests that build
// the clawtrail binary build it with the same driver).
const BuildTags = "sqlite_cgo sqlite_fts5"

// Built with -tags "sqlite_cgo sqlite_fts5", the store runs on the C
// SQLite of github.com/mattn/go-sqlite3 instead of the pure-Go
// translation. The driver is registered as "sqlite" and takes the same
// data source names: "file:PATH?_pragma=NAME(VALUE)&...", the pragmas run
// in order on every new connection; other parameters (_txlock, mode) go
// to mattn as they are.
func init() { sql.Register("sqlite", cgoDriver{}) }

type cgoDriver struct{}

func (cgoDriver) Open(name string) (driver.Conn, error) {
	path, query, _ := strings.Cut(name, "?")
	params, err := url.ParseQuery(query)
	if err != nil {
		return nil, fmt.Errorf("sqlite: data source %q: %w", name, err)
	}
	pragmas := params["_pragma"]
	params.Del("_pragma")
	dsn := path
	if len(params) > 0 {
		dsn += "?" + params.Encode()
	}
	c, err := (&sqlite3.SQLiteDriver{}).Open(dsn)
	if err != nil {
		return nil, err
	}
	for _, p := range pragmas {
		if _, err := c.(*sqlite3.SQLiteConn).Exec("PRAGMA "+p, nil); err != nil {
			c.Close()
			return nil, fmt.Errorf("sqlite: PRAGMA %s: %w", p, err)
		}
	}
	return c, nil
}
