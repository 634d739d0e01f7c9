package redact

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
)

// corpusSample is one line of testdata/corpus.jsonl.
type corpusSample struct {
	Text  string   `json:"text"`
	Kinds []string `json:"kinds"` // the kinds that must fire (none for clean text)
	Note  string   `json:"note"`
	PII   bool     `json:"pii"` // evaluate with the personal-data detectors on
}

func loadCorpus(t testing.TB, path string) []corpusSample {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var samples []corpusSample
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for line := 1; sc.Scan(); line++ {
		var s corpusSample
		dec := json.NewDecoder(strings.NewReader(sc.Text()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&s); err != nil {
			t.Fatalf("corpus line %d: %v", line, err)
		}
		for _, k := range s.Kinds {
			if builtinIndex(k) < 0 {
				t.Fatalf("corpus line %d: unknown kind %q", line, k)
			}
			if builtins()[builtinIndex(k)].pii && !s.PII {
				t.Fatalf("corpus line %d: kind %s needs \"pii\": true", line, k)
			}
		}
		samples = append(samples, s)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return samples
}

// TestCorpus measures the detectors on the labelled corpora: per kind and
// overall precision and recall over (sample, kind) pairs. corpus.jsonl was
// written with the detectors; holdout.jsonl was written afterwards by
// someone who never read them (an independent check).
func TestCorpus(t *testing.T) {
	for _, c := range []struct {
		path         string
		min, perKind int
	}{{"testdata/corpus.jsonl", 200, 5}, {"testdata/holdout.jsonl", 150, 4}} {
		t.Run(strings.TrimSuffix(strings.TrimPrefix(c.path, "testdata/"), ".jsonl"), func(t *testing.T) {
			testCorpus(t, c.path, c.min, c.perKind)
		})
	}
}

func testCorpus(t *testing.T, path string, least, perKind int) {
	samples := loadCorpus(t, path)
	if len(samples) < least {
		t.Fatalf("%s has %d samples, want at least %d", path, len(samples), least)
	}
	keys := testKeys()
	def, err := New(Config{}, keys)
	if err != nil {
		t.Fatal(err)
	}
	pii, err := New(Config{Enable: []string{"email", "phone", "us_ssn", "iban"}}, keys)
	if err != nil {
		t.Fatal(err)
	}
	type counts struct{ tp, fp, fn, samples int }
	per := map[string]*counts{}
	for _, k := range Kinds() {
		per[k.Kind] = &counts{}
	}
	var total counts
	var positives, clean int
	for i, s := range samples {
		r := def
		if s.PII {
			r = pii
		}
		out, hits := r.Text(s.Text)
		var got []string
		for _, h := range hits {
			if !slices.Contains(got, h.Kind) {
				got = append(got, h.Kind)
			}
			if strings.Contains(out, h.Value) && len(h.Value) >= minSweep {
				t.Errorf("sample %d (%s): %s value still in the output", i+1, s.Note, h.Kind)
			}
		}
		if again, more := r.Text(out); again != out || len(more) > 0 {
			t.Errorf("sample %d (%s): not idempotent: %q -> %q", i+1, s.Note, out, again)
		}
		if len(s.Kinds) > 0 {
			positives++
		} else {
			clean++
		}
		for _, k := range s.Kinds {
			per[k].samples++
			if slices.Contains(got, k) {
				per[k].tp++
				total.tp++
			} else {
				per[k].fn++
				total.fn++
				t.Logf("MISS sample %d (%s): %s not found in %q", i+1, s.Note, k, s.Text)
			}
		}
		for _, k := range got {
			if !slices.Contains(s.Kinds, k) {
				per[k].fp++
				total.fp++
				t.Logf("FALSE sample %d (%s): %s fired: %q", i+1, s.Note, k, out)
			}
		}
	}
	ratio := func(a, b int) float64 {
		if b == 0 {
			return 1
		}
		return float64(a) / float64(b)
	}
	var tab strings.Builder
	fmt.Fprintf(&tab, "\n%-16s %7s %4s %4s %4s %9s %7s\n", "kind", "samples", "tp", "fp", "fn", "precision", "recall")
	for _, k := range Kinds() {
		c := per[k.Kind]
		fmt.Fprintf(&tab, "%-16s %7d %4d %4d %4d %9.3f %7.3f\n", k.Kind, c.samples, c.tp, c.fp, c.fn,
			ratio(c.tp, c.tp+c.fp), ratio(c.tp, c.tp+c.fn))
	}
	precision, recall := ratio(total.tp, total.tp+total.fp), ratio(total.tp, total.tp+total.fn)
	fmt.Fprintf(&tab, "%-16s %7d %4d %4d %4d %9.3f %7.3f\n", "overall", len(samples), total.tp, total.fp, total.fn, precision, recall)
	fmt.Fprintf(&tab, "(%d samples with secrets or personal data, %d without)", positives, clean)
	t.Log(tab.String())
	if precision < 0.98 || recall < 0.95 {
		t.Errorf("precision %.3f (want >= 0.98), recall %.3f (want >= 0.95)", precision, recall)
	}
	for _, k := range Kinds() {
		if per[k.Kind].samples < perKind {
			t.Errorf("kind %s has %d samples in %s, want at least %d", k.Kind, per[k.Kind].samples, path, perKind)
		}
	}
}

func testKeys() Keys {
	return Keys{
		Fingerprint: []byte("fingerprint-key-0123456789abcdef!"),
		Pseudonym:   []byte("pseudonym-key-0123456789abcdefgh!"),
	}
}
