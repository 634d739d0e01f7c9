package crypt

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSealOpen(t *testing.T) {
	k := NewKey()
	ad := []byte("tenant\x00id-1")
	msg := []byte("the body of an event")
	s1, s2 := k.Seal(nil, msg, ad), k.Seal(nil, msg, ad)
	if bytes.Equal(s1, s2) {
		t.Fatal("two seals of one message are equal: nonces repeat")
	}
	if bytes.Contains(s1, msg) || len(s1) != len(msg)+Overhead {
		t.Fatalf("sealed message holds the plaintext or has length %d", len(s1))
	}
	got, err := k.Open(nil, s1, ad)
	if err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("Open = %q, %v", got, err)
	}
	other := NewKey()
	for name, c := range map[string]func() ([]byte, error){
		"wrong key":  func() ([]byte, error) { return other.Open(nil, s1, ad) },
		"wrong ad":   func() ([]byte, error) { return k.Open(nil, s1, []byte("tenant\x00id-2")) },
		"flipped":    func() ([]byte, error) { b := bytes.Clone(s1); b[30] ^= 1; return k.Open(nil, b, ad) },
		"flip nonce": func() ([]byte, error) { b := bytes.Clone(s1); b[3] ^= 1; return k.Open(nil, b, ad) },
		"short":      func() ([]byte, error) { return k.Open(nil, s1[:10], ad) },
	} {
		if _, err := c(); !errors.Is(err, ErrOpen) {
			t.Errorf("%s: err = %v, want ErrOpen", name, err)
		}
	}
}

func TestSealer(t *testing.T) {
	k := NewKey()
	s := k.NewSealer()
	ad := []byte("ad")
	a, b := s.Seal(nil, []byte("one"), ad), s.Seal(nil, []byte("two"), ad)
	if bytes.Equal(a[12:NonceSize], b[12:NonceSize]) {
		t.Fatal("a Sealer repeated a GCM nonce")
	}
	for _, m := range [][]byte{a, b} {
		if _, err := k.Open(nil, m, ad); err != nil {
			t.Fatalf("Key.Open of a Sealer's message: %v", err)
		}
	}
	other := NewKey()
	if _, err := other.Open(nil, a, ad); err == nil {
		t.Fatal("another key opened it")
	}
	s.uses = sealerUses // the next message takes a new prefix
	c := s.Seal(nil, []byte("three"), ad)
	if bytes.Equal(a[:12], c[:12]) {
		t.Fatal("the prefix was not renewed after sealerUses messages")
	}
}

func TestWrapDerive(t *testing.T) {
	master, tenant := NewKey(), NewKey()
	w := master.Wrap(tenant, "tenant/acme")
	got, err := master.Unwrap(w, "tenant/acme")
	if err != nil || got != tenant {
		t.Fatalf("Unwrap = %x, %v", got, err)
	}
	if _, err := master.Unwrap(w, "tenant/other"); !errors.Is(err, ErrOpen) {
		t.Errorf("unwrap under another name: %v", err)
	}
	a, b := tenant.Derive("index"), tenant.Derive("fingerprint")
	if a == b || a != tenant.Derive("index") {
		t.Error("Derive is not deterministic per purpose")
	}
	if master.Check() == tenant.Check() || len(master.Check()) != 32 {
		t.Error("Check does not tell keys apart")
	}
}

func TestLoadMasterKey(t *testing.T) {
	dir := t.TempDir()
	k := NewKey()
	for name, text := range map[string]string{
		"hex": hex.EncodeToString(k[:]) + "\n", "b64": base64.StdEncoding.EncodeToString(k[:]) + "\n",
		"raw": base64.RawURLEncoding.EncodeToString(k[:]),
	} {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(text), 0o600)
		got, err := LoadMasterKey(p)
		if err != nil || got != k {
			t.Errorf("%s: %x, %v", name, got, err)
		}
	}
	p := filepath.Join(dir, "short")
	os.WriteFile(p, []byte("c2hvcnQ="), 0o600)
	if _, err := LoadMasterKey(p); err == nil || !strings.Contains(err.Error(), "want 32 bytes") {
		t.Errorf("short key: %v", err)
	}
	if _, err := LoadMasterKey(filepath.Join(dir, "absent")); err == nil {
		t.Error("absent file accepted")
	}
}

func BenchmarkSeal1KiB(b *testing.B) {
	k := NewKey()
	msg := bytes.Repeat([]byte("x"), 1024)
	ad := []byte("tenant\x00id")
	var dst []byte
	b.SetBytes(1024)
	for b.Loop() {
		dst = k.Seal(dst[:0], msg, ad)
	}
}

func BenchmarkSealer1KiB(b *testing.B) {
	k := NewKey()
	s := k.NewSealer()
	msg := bytes.Repeat([]byte("x"), 1024)
	ad := []byte("tenant\x00id")
	var dst []byte
	b.SetBytes(1024)
	for b.Loop() {
		dst = s.Seal(dst[:0], msg, ad)
	}
}
