package fit

import (
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestString(t *testing.T) {
	var cuts []string
	if got := String("héllo", 2, "a", &cuts); got != "h" || !reflect.DeepEqual(cuts, []string{"a"}) {
		t.Errorf("cut inside a rune: %q %v", got, cuts)
	}
	cuts = nil
	if got := String("hello", 5, "a", &cuts); got != "hello" || cuts != nil {
		t.Errorf("no cut needed: %q %v", got, cuts)
	}
	for n := 0; n < 12; n++ {
		if got := String("日本語ですよ", n, "", new([]string)); !utf8.ValidString(got) || len(got) > n {
			t.Errorf("limit %d: %q", n, got)
		}
	}
}

func TestValueCopies(t *testing.T) {
	in := map[string]any{"a": strings.Repeat("x", 10), "b": []any{"yyyyyy", map[string]any{"c": "zzzzzzz"}}, "n": 1.5}
	var cuts []string
	out := Value(in, 4, "args", &cuts).(map[string]any)
	if out["a"] != "xxxx" || out["b"].([]any)[0] != "yyyy" || out["b"].([]any)[1].(map[string]any)["c"] != "zzzz" || out["n"] != 1.5 {
		t.Errorf("cut value %v", out)
	}
	if in["a"] != strings.Repeat("x", 10) || in["b"].([]any)[0] != "yyyyyy" {
		t.Errorf("the argument was changed: %v", in)
	}
	if got := Paths(cuts); !reflect.DeepEqual(got, []string{"args.a", "args.b", "args.b.c"}) {
		t.Errorf("cut paths %v", got)
	}
}

func TestFlatten(t *testing.T) {
	var v any = "leaf"
	for range 10 {
		v = map[string]any{"k": v}
	}
	var flat []string
	out := Flatten(v, 1, 3, "x", &flat)
	deep := out.(map[string]any)["k"].(map[string]any)["k"].(map[string]any)["k"]
	if s, ok := deep.(string); !ok || !strings.HasPrefix(s, `{"k":{"k":`) || !strings.Contains(s, `"leaf"`) {
		t.Errorf("level 4 kept as %T %v", deep, deep)
	}
	if !reflect.DeepEqual(flat, []string{"x.k.k.k"}) {
		t.Errorf("flat %v", flat)
	}
	if _, ok := v.(map[string]any)["k"].(map[string]any)["k"].(map[string]any)["k"].(map[string]any); !ok {
		t.Error("the argument was changed")
	}
}

func TestPathsStayShort(t *testing.T) {
	var many []string
	for i := range 5000 {
		many = append(many, "attributes.big.key"+strings.Repeat("k", i%50)+string(rune('a'+i%26))+".inner.deep")
	}
	got := Paths(many)
	size := 0
	for _, p := range got {
		size += len(p) + 3
	}
	if size > maxList || len(got) == 0 || !strings.HasPrefix(got[0], "attributes") {
		t.Errorf("%d paths, %d bytes: %v", len(got), size, got[:min(5, len(got))])
	}
	if got := Paths([]string{"b", "a", "b"}); !reflect.DeepEqual(got, []string{"a", "b"}) {
		t.Errorf("Paths = %v", got)
	}
	if got := Without([]string{"arguments.a", "result", "arguments"}, "arguments"); !reflect.DeepEqual(got, []string{"result", "arguments"}) {
		t.Errorf("Without = %v", got)
	}
}
