package redact

import "sync"

// defaultEngine holds the detectors that are on by default.
var defaultEngine = sync.OnceValue(func() *engine {
	var on [numBuiltin]bool
	for k, d := range builtins() {
		on[k] = !d.pii
	}
	return newEngine(on, nil)
})

// Secrets replaces every secret that the default detectors (the secret
// detectors, not the personal-data ones) find in s with [REDACTED:kind]
// and returns the kinds found, once each, in the order of the detectors.
// It needs no keys: the server uses it for the text it writes itself (the
// query of an access record).
func Secrets(s string) (string, []string) {
	e := defaultEngine()
	out, hits := e.redactText(s, nil)
	if len(hits) == 0 {
		return s, nil
	}
	var kinds []string
	for _, d := range e.dets {
		for _, h := range hits {
			if h.Kind == d.kind {
				kinds = append(kinds, d.kind)
				break
			}
		}
	}
	return out, kinds
}
