package ledger

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"
)

// The test vectors of docs/ledger.md, computed independently (Python
// hashlib/struct) from the byte layout documented there. If this test fails, the frozen format
// changed: that breaks every existing ledger. Add a new version instead.
func TestLeafVectors(t *testing.T) {
	salt := bytes.Repeat([]byte{0x11}, SaltSize)
	body := []byte(`{"id":"evt_1","seq":0,"received_at":"2026-01-31T14:22:33.5Z","tenant_id":"tenant_acme_corp","type":"prompt","timestamp":"2026-01-31T14:22:33.456Z","key_id":"0123456789abcdef","content":"hi"}`)
	commit := BodyCommit(salt, body)
	if got, want := hex.EncodeToString(commit[:]), "b2edd8c5408f4b35b63b64eb33a491fd7fe0f891e19689b6a8677adec5bf082b"; got != want {
		t.Errorf("body commitment = %s, want %s", got, want)
	}
	l := Leaf{Tenant: "tenant_acme_corp", ID: "evt_1", Seq: 0, ReceivedAt: 1769869353500000000,
		Type: "prompt", KeyID: "0123456789abcdef", BodyCommit: commit}
	rec := l.Append(nil)
	wantRec := "01" + "0010" + hex.EncodeToString([]byte("tenant_acme_corp")) +
		"0005" + hex.EncodeToString([]byte("evt_1")) +
		"0000000000000000" + "188fd6ccc237bf00" +
		"0006" + hex.EncodeToString([]byte("prompt")) +
		"0010" + hex.EncodeToString([]byte("0123456789abcdef")) +
		hex.EncodeToString(commit[:])
	if got := hex.EncodeToString(rec); got != wantRec {
		t.Errorf("leaf record =\n%s\nwant\n%s", got, wantRec)
	}
	lh := LeafHash(rec)
	if got, want := hex.EncodeToString(lh[:]), "ad681d7abf702ec1961054c453d47d61045cf0c4234d303c403125d9241ca33e"; got != want {
		t.Errorf("leaf hash = %s, want %s", got, want)
	}
	back, err := ParseLeaf(rec)
	if err != nil || back != l {
		t.Errorf("ParseLeaf = %+v, %v; want %+v", back, err, l)
	}
}

func TestParseLeafRejects(t *testing.T) {
	l := Leaf{Tenant: "t", ID: "i", Type: "prompt", KeyID: "k"}
	rec := l.Append(nil)
	for name, bad := range map[string][]byte{
		"empty":     nil,
		"version":   append([]byte{2}, rec[1:]...),
		"truncated": rec[:len(rec)-1],
		"trailing":  append(append([]byte(nil), rec...), 0),
	} {
		if _, err := ParseLeaf(bad); !errors.Is(err, ErrMalformedLeaf) {
			t.Errorf("%s: ParseLeaf error = %v, want ErrMalformedLeaf", name, err)
		}
	}
}
