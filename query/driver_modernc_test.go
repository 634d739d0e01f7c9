//go:build !sqlite_cgo

package query

import _ "modernc.org/sqlite" // the database/sql driver "sqlite" the store uses by default
