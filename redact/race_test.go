//go:build race

package redact

// raceEnabled skips the input-size scaling test under the race detector,
// which slows the scanner some ten times.
const raceEnabled = true
