package sqlite

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/clawtrail/clawtrail/crypt"
	"github.com/clawtrail/clawtrail/internal/ixtest"
	"github.com/clawtrail/clawtrail/query"
)

// The values of user_id, trace_id and the other token columns are
// full-text tokens: col:X finds exactly the tenant's events holding X (ids
// longer than the part of a value kept in clear included), negated and in
// an OR as well, in a clear and in a blind index; a blind index holds no
// user id in clear.
func TestColumnTokens(t *testing.T) {
	k := crypt.NewKey()
	long := "user-" + strings.Repeat("u", 80) // > MaxIndexValueLen: stored as prefix + hash
	twin := long[:len(long)-1] + "v"          // same clear prefix, another hash
	for _, blind := range []bool{false, true} {
		dir := t.TempDir()
		s := openStoreBlind(t, dir, blind, &k)
		users := []string{"wombat-1", "wombat-2", long, twin}
		var b strings.Builder
		for i := range 40 {
			fmt.Fprintf(&b, `{"id":"e%02d","type":"api_call","user_id":%q,"trace_id":"tr%d","destination":"api.x.com","channel":"cli"}`+"\n",
				i, users[i%4], i%5)
		}
		mustAppend(t, s, "acme", b.String())
		mustAppend(t, s, "beta", `{"id":"other","type":"api_call","user_id":"wombat-1","trace_id":"tr0"}`)
		ids := func(f func(i int) bool) []string {
			var out []string
			for i := 39; i >= 0; i-- {
				if f(i) {
					out = append(out, fmt.Sprintf("e%02d", i))
				}
			}
			return out
		}
		for q, want := range map[string][]string{
			"user:wombat-1":                     ids(func(i int) bool { return i%4 == 0 }),
			"user_id:" + long:                   ids(func(i int) bool { return i%4 == 2 }),
			"user_id:" + twin:                   ids(func(i int) bool { return i%4 == 3 }),
			"-user:wombat-2":                    ids(func(i int) bool { return i%4 != 1 }),
			"trace_id:tr3":                      ids(func(i int) bool { return i%5 == 3 }),
			"trace_id:tr3 -user:wombat-1":       ids(func(i int) bool { return i%5 == 3 && i%4 != 0 }),
			"trace_id:tr1 OR user:wombat-2":     ids(func(i int) bool { return i%5 == 1 || i%4 == 1 }),
			"user:wombat-1 OR status:error":     ids(func(i int) bool { return i%4 == 0 }),
			"destination:api.x.com channel:cli": ids(func(i int) bool { return true }),
			"user:nobody":                       nil,
		} {
			if got := search(t, s, "acme", q); !slices.Equal(got, want) {
				t.Errorf("blind %v: %q found %v, want %v", blind, q, got, want)
			}
		}
		if got := search(t, s, "beta", "user:wombat-1 trace_id:tr0"); !slices.Equal(got, []string{"other"}) {
			t.Errorf("blind %v: the other tenant's user:wombat-1 trace_id:tr0 found %v", blind, got)
		}
		s.Close()
		if n := ixtest.TermsHolding(t, dir, query.TokenText("wombat-1")); (n > 0) == blind {
			t.Errorf("blind %v: %d full-text terms hold the token text of a user id", blind, n)
		}
	}
}
