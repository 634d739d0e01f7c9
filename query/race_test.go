//go:build race

package query

// raceEnabled shrinks the differential test under the race detector, which
// slows the pure-Go SQLite some twenty times.
const raceEnabled = true
