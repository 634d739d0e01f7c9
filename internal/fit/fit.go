// Package fit makes decoded JSON values fit the server's limits without
// losing anything silently: strings cut at a UTF-8 boundary, values nested
// too deeply kept as their JSON text, and the paths of whatever was changed
// listed for the event to carry (attributes.truncated, …). The
// integrations that translate foreign formats (claudecode, otlp) share it.
//
// Values are what encoding/json decodes into any: map[string]any, []any,
// string, float64 or json.Number, bool, nil. Functions that change a value
// return a copy and leave their argument as it was. Items of an array are
// noted under their array's path, so that a long array makes one entry.
package fit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"
)

// String cuts s to at most limit bytes at a UTF-8 boundary, appending path
// to cuts when it does.
func String(s string, limit int, path string, cuts *[]string) string {
	if len(s) <= limit {
		return s
	}
	i := max(limit, 0)
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	*cuts = append(*cuts, path)
	return s[:i]
}

// Value returns a copy of v with every string in it cut to limit bytes.
func Value(v any, limit int, path string, cuts *[]string) any {
	switch x := v.(type) {
	case string:
		return String(x, limit, path, cuts)
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, val := range x {
			out[k] = Value(val, limit, path+"."+k, cuts)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, val := range x {
			out[i] = Value(val, limit, path, cuts)
		}
		return out
	}
	return v
}

// Flatten returns a copy of v in which the objects and arrays nested
// deeper than maxDepth (depth is v's own level, 1 for a top-level field)
// are replaced by their JSON text, each one's path appended to flat: the
// content is kept, and searchable as text, within the server's nesting
// limit.
func Flatten(v any, depth, maxDepth int, path string, flat *[]string) any {
	switch x := v.(type) {
	case map[string]any:
		if depth > maxDepth {
			*flat = append(*flat, path)
			return JSONText(x)
		}
		out := make(map[string]any, len(x))
		for k, val := range x {
			out[k] = Flatten(val, depth+1, maxDepth, path+"."+k, flat)
		}
		return out
	case []any:
		if depth > maxDepth {
			*flat = append(*flat, path)
			return JSONText(x)
		}
		out := make([]any, len(x))
		for i, val := range x {
			out[i] = Flatten(val, depth+1, maxDepth, path, flat)
		}
		return out
	}
	return v
}

// JSONText is v as compact JSON text (HTML characters not escaped).
func JSONText(v any) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Sprint(v)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// maxList bounds the size of a path list, so that the list of what was cut
// cannot itself overflow an event.
const maxList = 8 << 10

// Paths returns the distinct paths, sorted, kept short: when they are many
// (every key of a large map), each is shortened to its first segments until
// the list is under 8 KiB; a path is never longer than 256 bytes.
func Paths(paths []string) []string {
	for segs := 4; ; segs-- {
		seen := map[string]bool{}
		var list []string
		size := 0
		for _, p := range paths {
			if parts := strings.SplitN(p, ".", segs+1); len(parts) > segs {
				p = strings.Join(parts[:segs], ".")
			}
			p = String(p, 256, "", new([]string))
			if !seen[p] {
				seen[p] = true
				list = append(list, p)
				size += len(p) + 3
			}
		}
		if size <= maxList || segs == 1 {
			sort.Strings(list)
			return list
		}
	}
}

// Without returns cuts with the paths inside field replaced by field
// itself: for a field that was dropped whole.
func Without(cuts []string, field string) []string {
	out := make([]string, 0, len(cuts)+1)
	for _, c := range cuts {
		if c != field && !strings.HasPrefix(c, field+".") {
			out = append(out, c)
		}
	}
	return append(out, field)
}
