package clawtrail

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ParseTimeBound parses a --from/--to value (SPEC §3): RFC 3339, a date
// (UTC; as an upper bound it includes the whole day), or a duration back
// from now ("15m", "24h", "7d"). An empty string is the zero time.
func ParseTimeBound(s string, now time.Time, upper bool) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		if upper {
			return t.Add(24*time.Hour - time.Nanosecond), nil
		}
		return t, nil
	}
	if d, ok := parseAgo(s); ok {
		return now.Add(-d).UTC(), nil
	}
	return time.Time{}, fmt.Errorf("%w: time %q is not RFC 3339, a date (2026-01-01) or a duration (15m, 24h, 7d)", ErrInvalid, s)
}

func parseAgo(s string) (time.Duration, bool) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days < 0 {
			return 0, false
		}
		return time.Duration(days) * 24 * time.Hour, true
	}
	d, err := time.ParseDuration(s)
	return d, err == nil && d >= 0
}
