//go:build !sqlite_cgo

package sqlite

import (
	_ "modernc.org/sqlite" // the database/sql driver "sqlite"
)

// Driver names the SQLite driver this binary was built with.
const Driver = "modernc.org/sqlite (pure Go)"

// BuildTags are the build tags that select this driver (tests that build
// the clawtrail binary build it with the same driver).
const BuildTags = ""
