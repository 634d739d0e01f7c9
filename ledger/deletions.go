package ledger

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// KindDeleted: an event's body was deleted and no tombstone allowed it, or a
// tombstone claims a deletion its tenant's policy or holds forbade.
const KindDeleted = "deleted"

// Retention and erasure leave tombstone events; configuration changes
// (retention policies, legal holds) are config_change events. Their
// attributes, written by the store and read here, are strings:
//
//	tombstone:     cause = retention | erasure, deleted = "a-b,c,…" (seq ranges),
//	               retention: keep_ns, policy_seq, cutoff_ns
//	config_change: action = retention.set (keep_ns, locked) |
//	               hold.add (hold_id, scope = tenant | query) | hold.release (hold_id)
const (
	CauseRetention = "retention"
	CauseErasure   = "erasure"
)

// Deletions decides whether a deleted body was allowed: by a tombstone of a
// later seq that names it, checked against the retention policy then in
// force (its age) and the legal holds then active. Build it from a
// tenant's tombstones and config changes (NewDeletions) before feeding the
// verifier its events.
type Deletions struct {
	ranges   []allowed // sorted by from, not overlapping
	findings []Finding
	// sealed: some tombstones or config changes could not be read (their
	// bodies are encrypted and the verifier has no key): deletions cannot
	// be judged, and are reported as unchecked rather than as tampering.
	sealed bool
}

// Unchecked reports whether deletions could not be judged (encrypted
// tombstones, no key).
func (d *Deletions) Unchecked() bool { return d != nil && d.sealed }

type allowed struct {
	from, to int64
	cutoff   int64 // latest received_at a retention deletion may have; max for erasure
	tomb     int64
}

type special struct {
	Type       string            `json:"type"`
	Attributes map[string]string `json:"-"`
	Raw        map[string]any    `json:"attributes"`
}

func parseSpecial(body []byte) (special, bool) {
	var s special
	if json.Unmarshal(body, &s) != nil {
		return s, false
	}
	s.Attributes = map[string]string{}
	for k, v := range s.Raw {
		if str, ok := v.(string); ok {
			s.Attributes[k] = str
		}
	}
	return s, true
}

type holdSpan struct {
	id         string
	from, to   int64 // active for tombstones in seqs (from, to)
	tenantWide bool
}

// NewDeletions reads a tenant's tombstone and config_change records (in seq
// order, bodies in clear) and checks each tombstone.
func NewDeletions(recs []*Record) *Deletions {
	d := &Deletions{}
	type policy struct {
		seq, keep int64
	}
	var policies []policy
	var holds []*holdSpan
	byID := map[string]*holdSpan{}
	var locked bool
	var lockedKeep int64
	const forever = int64(1<<63 - 1)
	for _, rec := range recs {
		if rec.Sealed {
			d.sealed = true
			continue
		}
		if rec.Body == nil {
			continue
		}
		s, ok := parseSpecial(rec.Body)
		if !ok {
			continue // an altered body: the verifier reports it as modified
		}
		a := s.Attributes
		switch rec.Type {
		case "config_change":
			switch a["action"] {
			case "retention.set":
				keep, err := strconv.ParseInt(a["keep_ns"], 10, 64)
				if err != nil || keep <= 0 {
					d.findings = append(d.findings, Finding{Seq: rec.Seq, SeqEnd: rec.Seq, Kind: KindDeleted,
						Message: fmt.Sprintf("config change %s: unreadable retention policy %q", rec.ID, a["keep_ns"])})
					continue
				}
				if locked && keep < lockedKeep {
					d.findings = append(d.findings, Finding{Seq: rec.Seq, SeqEnd: rec.Seq, Kind: KindDeleted,
						Message: fmt.Sprintf("config change %s: it shortened a locked retention policy (%d ns to %d ns)", rec.ID, lockedKeep, keep)})
				}
				if a["locked"] == "true" {
					locked, lockedKeep = true, keep
				}
				policies = append(policies, policy{rec.Seq, keep})
			case "hold.add":
				h := &holdSpan{id: a["hold_id"], from: rec.Seq, to: forever, tenantWide: a["scope"] == "tenant"}
				holds = append(holds, h)
				byID[h.id] = h
			case "hold.release":
				if h := byID[a["hold_id"]]; h != nil && h.to == forever {
					h.to = rec.Seq
				}
			}
		case "tombstone":
			d.tombstone(rec, a, func(seq int64) (int64, bool) {
				for i := len(policies) - 1; i >= 0; i-- {
					if policies[i].seq < seq {
						return policies[i].keep, true
					}
				}
				return 0, false
			}, func(seq int64) string {
				for _, h := range holds {
					if h.tenantWide && h.from < seq && seq < h.to {
						return h.id
					}
				}
				return ""
			})
		}
	}
	sort.Slice(d.ranges, func(i, j int) bool { return d.ranges[i].from < d.ranges[j].from })
	return d
}

func (d *Deletions) fail(rec *Record, format string, args ...any) {
	d.findings = append(d.findings, Finding{Seq: rec.Seq, SeqEnd: rec.Seq, Kind: KindDeleted,
		Message: fmt.Sprintf("tombstone %s: ", rec.ID) + fmt.Sprintf(format, args...)})
}

func (d *Deletions) tombstone(rec *Record, a map[string]string, keepAt func(int64) (int64, bool), holdAt func(int64) string) {
	ranges, err := ParseRanges(a["deleted"])
	if err != nil {
		d.fail(rec, "unreadable list of deleted events: %v", err)
		return
	}
	cutoff := int64(1<<63 - 1)
	switch a["cause"] {
	case CauseRetention:
		keep, ok := keepAt(rec.Seq)
		if !ok {
			d.fail(rec, "it deletes by retention, but no retention policy was in force")
			return
		}
		claimed, err1 := strconv.ParseInt(a["keep_ns"], 10, 64)
		c, err2 := strconv.ParseInt(a["cutoff_ns"], 10, 64)
		if err1 != nil || err2 != nil || claimed != keep {
			d.fail(rec, "it names a policy (keep %s) other than the one in force (keep %d ns)", a["keep_ns"], keep)
			return
		}
		if c > rec.ReceivedAt-keep {
			d.fail(rec, "its cutoff is younger than the policy in force allows")
			return
		}
		cutoff = c
	case CauseErasure:
	default:
		d.fail(rec, "unknown cause %q", a["cause"])
		return
	}
	if h := holdAt(rec.Seq); h != "" && len(ranges) > 0 {
		d.fail(rec, "it deletes events while legal hold %s covered the whole tenant", h)
		return
	}
	for _, r := range ranges {
		if r[1] >= rec.Seq {
			d.fail(rec, "it names events (%d–%d) not older than itself", r[0], r[1])
			return
		}
	}
	for _, r := range ranges {
		d.ranges = append(d.ranges, allowed{from: r[0], to: r[1], cutoff: cutoff, tomb: rec.Seq})
	}
}

// Findings returns the tombstones that claim deletions nothing allowed.
func (d *Deletions) Findings() []Finding { return d.findings }

// Allowed says whether the body of the event at seq, committed at
// receivedAt, may be gone.
func (d *Deletions) Allowed(seq, receivedAt int64) bool {
	if d == nil {
		return false
	}
	if d.sealed {
		return true // unchecked: Verifier.Finish says so
	}
	// Ranges do not overlap (each body is deleted once), so the last range
	// starting at or before seq is the only candidate.
	i := sort.Search(len(d.ranges), func(i int) bool { return d.ranges[i].from > seq }) - 1
	return i >= 0 && seq <= d.ranges[i].to && receivedAt <= d.ranges[i].cutoff
}

// FormatRanges writes sorted seqs as "a-b,c,…".
func FormatRanges(seqs []int64) string {
	seqs = slices.Clone(seqs)
	slices.Sort(seqs)
	var b strings.Builder
	for i := 0; i < len(seqs); {
		j := i
		for j+1 < len(seqs) && seqs[j+1] <= seqs[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatInt(seqs[i], 10))
		if seqs[j] != seqs[i] {
			b.WriteByte('-')
			b.WriteString(strconv.FormatInt(seqs[j], 10))
		}
		i = j + 1
	}
	return b.String()
}

// ParseRanges reads what FormatRanges wrote.
func ParseRanges(s string) ([][2]int64, error) {
	if s == "" {
		return nil, nil
	}
	var out [][2]int64
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.ParseInt(lo, 10, 64)
		if err != nil || a < 0 {
			return nil, fmt.Errorf("bad seq %q", part)
		}
		b := a
		if isRange {
			if b, err = strconv.ParseInt(hi, 10, 64); err != nil || b < a {
				return nil, fmt.Errorf("bad range %q", part)
			}
		}
		out = append(out, [2]int64{a, b})
	}
	return out, nil
}
