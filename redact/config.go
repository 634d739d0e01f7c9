package redact

import (
	"errors"
	"fmt"
	"regexp"
	"regexp/syntax"
	"slices"
	"strings"
)

// Config is a redaction configuration: the server's default, and a
// tenant's over it (Merge). New validates it.
type Config struct {
	Enable   []string    `yaml:"enable" json:"enable,omitempty"`   // detector kinds to turn on (e.g. "email")
	Disable  []string    `yaml:"disable" json:"disable,omitempty"` // detector kinds to turn off
	Patterns []Pattern   `yaml:"patterns" json:"patterns,omitempty"`
	Fields   []FieldRule `yaml:"fields" json:"fields,omitempty"`
}

// Pattern is a custom detector. Name must match ^[a-z][a-z0-9_]{0,63}$ and
// differ from the built-in kinds; a match becomes [REDACTED:<name>]. If
// Regex (RE2 syntax) has a capture group named "secret", only that group
// is replaced.
type Pattern struct {
	Name  string `yaml:"name" json:"name"`
	Regex string `yaml:"regex" json:"regex"`
}

// FieldRule redacts one field whatever it holds. Field is a top-level field
// by its JSON name, or a dotted path into arguments, result, usage or
// attributes (arguments.to, attributes.customer.email); a path that meets
// an array applies to each of its elements. Action is drop, mask or hmac.
type FieldRule struct {
	Field  string `yaml:"field" json:"field"`
	Action string `yaml:"action" json:"action"`
}

// Field rule actions.
const (
	ActionDrop = "drop" // remove the field (a top-level string field becomes "")
	ActionMask = "mask" // replace the value, whatever it is, with "[REDACTED:field]"
	ActionHMAC = "hmac" // replace each string, number or bool with Pseudonym(keys.Pseudonym, value)
)

// MaskText replaces a value masked by a field rule.
const MaskText = markerPrefix + "field]"

// Keys are a tenant's secret keys, at least 32 bytes each: Fingerprint
// keys the fingerprints of redacted values, Pseudonym the values that hmac
// field rules replace.
type Keys struct {
	Fingerprint, Pseudonym []byte
}

// MinKeyLen is the shortest key Keys may hold.
const MinKeyLen = 32

// KindInfo describes a built-in detector kind.
type KindInfo struct {
	Kind        string
	Default     bool // on unless a configuration disables it
	PII         bool // a personal-data detector (off by default)
	Description string
}

// Kinds returns every built-in detector kind, in priority order, secret
// detectors (on by default) first.
func Kinds() []KindInfo {
	var ks []KindInfo
	for _, pii := range []bool{false, true} {
		for _, d := range builtins() {
			if d.pii == pii {
				ks = append(ks, KindInfo{Kind: d.kind, Default: !d.pii, PII: d.pii, Description: d.desc})
			}
		}
	}
	return ks
}

func kindNames() string {
	var names []string
	for _, k := range Kinds() {
		names = append(names, k.Kind)
	}
	return strings.Join(names, ", ")
}

func builtinIndex(kind string) int {
	for k, d := range builtins() {
		if d.kind == kind {
			return k
		}
	}
	return -1
}

// Merge returns c with over (a tenant's configuration) on top: every list
// is appended; a kind in over.Enable is removed from c's Disable and a kind
// in over.Disable from c's Enable; a field rule of over replaces c's rule
// on the same field.
func (c Config) Merge(over Config) Config {
	notIn := func(list []string) func(string) bool {
		return func(s string) bool { return slices.Contains(list, s) }
	}
	var m Config
	m.Enable = append(slices.DeleteFunc(slices.Clone(c.Enable), notIn(over.Disable)), over.Enable...)
	m.Disable = append(slices.DeleteFunc(slices.Clone(c.Disable), notIn(over.Enable)), over.Disable...)
	m.Patterns = slices.Concat(c.Patterns, over.Patterns)
	for _, f := range c.Fields {
		if !slices.ContainsFunc(over.Fields, func(o FieldRule) bool { return o.Field == f.Field }) {
			m.Fields = append(m.Fields, f)
		}
	}
	m.Fields = append(m.Fields, over.Fields...)
	for _, l := range []*[]string{&m.Enable, &m.Disable} {
		if len(*l) == 0 {
			*l = nil
		}
	}
	if len(m.Patterns) == 0 {
		m.Patterns = nil
	}
	return m
}

// Redactor applies one configuration with one tenant's keys. It is safe
// for concurrent use.
type Redactor struct {
	eng    *engine
	fields []fieldRule
	hmac   map[string]bool // fields with an hmac rule
	keys   Keys
	fmac   *macPool // keyed by keys.Fingerprint
	pmac   *macPool // keyed by keys.Pseudonym
}

var patternName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)

// maxPatternLen bounds a custom regexp's source.
const maxPatternLen = 4096

// New validates c and returns its Redactor. The error names every problem
// found, one per line.
func New(c Config, keys Keys) (*Redactor, error) {
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	if len(keys.Fingerprint) < MinKeyLen {
		fail("fingerprint key is %d bytes, want at least %d", len(keys.Fingerprint), MinKeyLen)
	}
	if len(keys.Pseudonym) < MinKeyLen {
		fail("pseudonym key is %d bytes, want at least %d", len(keys.Pseudonym), MinKeyLen)
	}

	var on [numBuiltin]bool
	for k, d := range builtins() {
		on[k] = !d.pii
	}
	for _, list := range []struct {
		name  string
		kinds []string
		on    bool
	}{{"enable", c.Enable, true}, {"disable", c.Disable, false}} {
		for _, kind := range list.kinds {
			k := builtinIndex(kind)
			if k < 0 {
				fail("%s: unknown detector kind %q (known kinds: %s)", list.name, kind, kindNames())
				continue
			}
			on[k] = list.on
			if list.on && slices.Contains(c.Disable, kind) {
				fail("detector kind %q is both enabled and disabled", kind)
			}
		}
	}

	var custom []*detector
	for i, p := range c.Patterns {
		d, err := compilePattern(i, p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		custom = append(custom, d)
	}

	r := &Redactor{hmac: map[string]bool{}}
	seen := map[string]int{}
	for i, f := range c.Fields {
		n := i + 1
		fr, err := parseFieldRule(n, f)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if prev, dup := seen[f.Field]; dup {
			fail("field rule %d: field %q already has a rule (field rule %d)", n, f.Field, prev)
			continue
		}
		seen[f.Field] = n
		r.fields = append(r.fields, fr)
		if f.Action == ActionHMAC {
			r.hmac[f.Field] = true
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	r.eng = newEngine(on, custom)
	r.keys = Keys{Fingerprint: slices.Clone(keys.Fingerprint), Pseudonym: slices.Clone(keys.Pseudonym)}
	r.fmac, r.pmac = newMACPool(r.keys.Fingerprint), newMACPool(r.keys.Pseudonym)
	return r, nil
}

func compilePattern(i int, p Pattern) (*detector, error) {
	if !patternName.MatchString(p.Name) {
		return nil, fmt.Errorf("pattern %d: bad name %q (want ^[a-z][a-z0-9_]{0,63}$)", i+1, p.Name)
	}
	if builtinIndex(p.Name) >= 0 || p.Name == "field" {
		return nil, fmt.Errorf("pattern %q: the name is taken by a built-in kind (choose another name)", p.Name)
	}
	if p.Regex == "" {
		return nil, fmt.Errorf("pattern %q: empty regex", p.Name)
	}
	if len(p.Regex) > maxPatternLen {
		return nil, fmt.Errorf("pattern %q: regex is %d bytes, want at most %d", p.Name, len(p.Regex), maxPatternLen)
	}
	re, err := regexp.Compile(p.Regex)
	if err != nil {
		return nil, fmt.Errorf("pattern %q: bad regex: %v", p.Name, err)
	}
	if re.MatchString("") {
		return nil, fmt.Errorf("pattern %q: regex matches the empty string", p.Name)
	}
	group := 0
	if g := re.SubexpIndex("secret"); g > 0 {
		group = g
	}
	r := rule{re: re, plain: re, group: group}
	if prefix, _ := re.LiteralPrefix(); prefix != "" {
		// Anchored where the prefix occurs.
		r.re, r.at, r.head = regexp.MustCompile(`^(?:`+p.Regex+`)`), lits(prefix), -1
	} else {
		r.scan, r.contains = true, requiredLiteral(p.Regex)
	}
	return &detector{kind: p.Name, class: classSpecific, rules: []rule{r}}, nil
}

// requiredLiteral returns the longest literal (case-sensitive) that every
// match of expr contains, as far as a quick look at its top level tells, or
// "".
func requiredLiteral(expr string) string {
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return ""
	}
	re = re.Simplify()
	best := ""
	consider := func(r *syntax.Regexp) {
		for r.Op == syntax.OpCapture {
			r = r.Sub[0]
		}
		if r.Op == syntax.OpLiteral && r.Flags&syntax.FoldCase == 0 && len(string(r.Rune)) > len(best) {
			best = string(r.Rune)
		}
	}
	consider(re)
	if re.Op == syntax.OpConcat {
		for _, sub := range re.Sub {
			consider(sub)
		}
	}
	return best
}

// Text redacts s with the enabled detectors and custom patterns and
// returns the result and what was replaced (once per kind and value, in
// the order found). Text of its own result finds nothing.
func (r *Redactor) Text(s string) (string, []Hit) {
	return r.eng.redactText(s, nil)
}

// Fingerprint is Fingerprint with the tenant's fingerprint key.
func (r *Redactor) Fingerprint(value string) string { return r.fmac.sum16(fingerprintContext, value) }

// Pseudonym is Pseudonym with the tenant's pseudonym key: what an hmac
// field rule stores for value.
func (r *Redactor) Pseudonym(value string) string { return pseudonymPrefix + r.pmac.sum16("", value) }

// FieldPseudonym reports whether an hmac field rule applies to exactly
// this field path (as configured, e.g. "user_id" or "arguments.to"): a
// query on it must compare pseudonyms.
func (r *Redactor) FieldPseudonym(field string) bool { return r.hmac[field] }
