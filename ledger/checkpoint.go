package ledger

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/transparency-dev/formats/log"
	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"
)

// A checkpoint is a C2SP tlog-checkpoint (https://c2sp.org/tlog-checkpoint):
// a signed note whose text is
//
//	<origin>\n<size>\n<base64 root>\n
//
// signed with Ed25519 (https://c2sp.org/signed-note). One server key signs
// every tenant's checkpoints; the key is named "<host>/clawtrail" and a
// tenant's origin is "<host>/clawtrail/<tenant>".

// LogName returns the key name (and origin prefix) for a host.
func LogName(host string) string { return host + "/clawtrail" }

// Origin returns the checkpoint origin of a tenant's log.
func Origin(logName, tenant string) string { return logName + "/" + tenant }

// GenerateSigningKey makes a new Ed25519 note key named name; skey is the
// private key (keep it secret), vkey the public verifier key.
func GenerateSigningKey(name string) (skey, vkey string, err error) {
	return note.GenerateKey(rand.Reader, name)
}

// Signer signs checkpoints.
type Signer struct {
	s    note.Signer
	vkey string
}

// NewSigner parses a private note key ("PRIVATE+KEY+name+hash+key").
func NewSigner(skey string) (*Signer, error) {
	s, err := note.NewSigner(strings.TrimSpace(skey))
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	vkey, err := VerifierKey(skey)
	if err != nil {
		return nil, err
	}
	return &Signer{s: s, vkey: vkey}, nil
}

// VerifierKey derives the public key ("name+hash+base64(0x01‖pub)") of an
// Ed25519 private note key ("PRIVATE+KEY+name+hash+base64(0x01‖seed)").
func VerifierKey(skey string) (string, error) {
	parts := strings.SplitN(strings.TrimSpace(skey), "+", 5)
	if len(parts) != 5 || parts[0] != "PRIVATE" || parts[1] != "KEY" {
		return "", errors.New("signing key: not a PRIVATE+KEY note key")
	}
	key, err := base64.StdEncoding.DecodeString(parts[4])
	if err != nil || len(key) != 1+ed25519.SeedSize || key[0] != 1 {
		return "", errors.New("signing key: not an Ed25519 note key")
	}
	return note.NewEd25519VerifierKey(parts[2], ed25519.NewKeyFromSeed(key[1:]).Public().(ed25519.PublicKey))
}

// Name is the key's name (the log name).
func (s *Signer) Name() string { return s.s.Name() }

// VKey is the public key, in note verifier key form.
func (s *Signer) VKey() string { return s.vkey }

// Sign returns the signed checkpoint note for origin, size and root.
func (s *Signer) Sign(origin string, size uint64, root [32]byte) ([]byte, error) {
	text := log.Checkpoint{Origin: origin, Size: size, Hash: root[:]}.Marshal()
	return note.Sign(&note.Note{Text: string(text)}, s.s)
}

// NoteSize reads the tree size of a checkpoint note without verifying its
// signatures (for messages about a note that failed verification, and for
// a server's own, freshly read checkpoint).
func NoteSize(raw []byte) (uint64, error) {
	text, _, ok := bytes.Cut(raw, []byte("\n\n"))
	if !ok {
		return 0, fmt.Errorf("%w: not a signed note", ErrMalformed)
	}
	var c log.Checkpoint
	if _, err := c.Unmarshal(raw[:len(text)+1]); err != nil {
		return 0, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return c.Size, nil
}

// Checkpoint is a parsed checkpoint.
type Checkpoint struct {
	Origin string
	Size   uint64
	Root   [32]byte
	// Note is the signed note as received; Sigs the signatures verified.
	Note []byte
	Sigs []note.Signature
}

// Checkpoint verification failures, told apart because verify reports them
// as different kinds of damage.
var (
	// ErrBadSignature: the note carries a signature by a trusted key's name
	// and hash that does not verify.
	ErrBadSignature = errors.New("bad signature")
	// ErrUntrusted: no trusted key signed the note (forged, or signed by a
	// key that is not trusted).
	ErrUntrusted = errors.New("not signed by a trusted key")
	// ErrMalformed: not a checkpoint note at all, or for another origin.
	ErrMalformed = errors.New("malformed checkpoint")
)

// OpenCheckpoint verifies a checkpoint note against the trusted log keys and
// parses it. origin, when not empty, must match. The error wraps one of
// ErrBadSignature, ErrUntrusted or ErrMalformed.
func OpenCheckpoint(raw []byte, origin string, keys *Keyring) (*Checkpoint, error) {
	if len(raw) > 64<<10 {
		return nil, fmt.Errorf("%w: %d bytes", ErrMalformed, len(raw))
	}
	n, err := note.Open(raw, keys.verifiers())
	if err != nil {
		var bad *note.InvalidSignatureError
		var unv *note.UnverifiedNoteError
		switch {
		case errors.As(err, &bad):
			return nil, fmt.Errorf("%w: %v", ErrBadSignature, err)
		case errors.As(err, &unv):
			return nil, fmt.Errorf("%w: signed by %s", ErrUntrusted, signerNames(unv.Note))
		default:
			return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
		}
	}
	// A witness's cosignature is not the log's signature: at least one
	// signature must be by a trusted log key.
	logSigned := false
	for _, sig := range n.Sigs {
		for _, v := range keys.log {
			if sig.Name == v.Name() && sig.Hash == v.KeyHash() {
				logSigned = true
			}
		}
	}
	if !logSigned {
		return nil, fmt.Errorf("%w: no signature by a trusted log key (only %s)", ErrUntrusted, sigNames(n.Sigs))
	}
	var c log.Checkpoint
	rest, err := c.Unmarshal([]byte(n.Text))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("%w: unexpected extension lines", ErrMalformed)
	}
	if len(c.Hash) != 32 {
		return nil, fmt.Errorf("%w: root hash of %d bytes", ErrMalformed, len(c.Hash))
	}
	if origin != "" && c.Origin != origin {
		return nil, fmt.Errorf("%w: origin %q, want %q", ErrMalformed, c.Origin, origin)
	}
	return &Checkpoint{Origin: c.Origin, Size: c.Size, Root: [32]byte(c.Hash), Note: raw, Sigs: n.Sigs}, nil
}

func sigNames(sigs []note.Signature) string {
	var names []string
	for _, s := range sigs {
		names = append(names, fmt.Sprintf("%s (key %08x)", s.Name, s.Hash))
	}
	return strings.Join(names, ", ")
}

func signerNames(n *note.Note) string {
	if n == nil || len(n.UnverifiedSigs) == 0 {
		return "nobody"
	}
	var names []string
	for _, s := range n.UnverifiedSigs {
		names = append(names, fmt.Sprintf("%s (key %08x)", s.Name, s.Hash))
	}
	return strings.Join(names, ", ")
}

// KeyInfo is one signing key in a server's key history.
type KeyInfo struct {
	VKey      string    `json:"vkey"`
	ValidFrom time.Time `json:"valid_from"`
	ValidTo   time.Time `json:"valid_to,omitzero"` // zero: the current key
}

// Keyring is a set of trusted log keys (and optional witness keys).
type Keyring struct {
	log       []note.Verifier
	witnesses []note.Verifier
	// Quorum is how many witness cosignatures a checkpoint needs when
	// witnesses are required (0: all of the witness keys).
	Quorum int
}

// WitnessQuorum is the number of witness cosignatures required.
func (k *Keyring) WitnessQuorum() int {
	if k.Quorum > 0 {
		return k.Quorum
	}
	return len(k.witnesses)
}

// NewKeyring parses trusted log verifier keys.
func NewKeyring(vkeys ...string) (*Keyring, error) {
	k := &Keyring{}
	for _, v := range vkeys {
		if err := k.AddLogKey(v); err != nil {
			return nil, err
		}
	}
	return k, nil
}

// AddLogKey trusts one more log key.
func (k *Keyring) AddLogKey(vkey string) error {
	v, err := note.NewVerifier(strings.TrimSpace(vkey))
	if err != nil {
		return fmt.Errorf("public key %q: %v", abbreviate(vkey), err)
	}
	for _, have := range k.log {
		if have.Name() == v.Name() && have.KeyHash() == v.KeyHash() {
			return nil
		}
	}
	k.log = append(k.log, v)
	return nil
}

// AddWitnessKey trusts a witness's cosignature key.
func (k *Keyring) AddWitnessKey(vkey string) error {
	v, err := fnote.NewVerifierForCosignatureV1(strings.TrimSpace(vkey))
	if err != nil {
		return fmt.Errorf("witness key %q: %v", abbreviate(vkey), err)
	}
	for _, have := range k.witnesses {
		if have.Name() == v.Name() && have.KeyHash() == v.KeyHash() {
			return nil
		}
	}
	k.witnesses = append(k.witnesses, v)
	return nil
}

// Len is the number of trusted log keys.
func (k *Keyring) Len() int { return len(k.log) }

// Witnesses is the number of trusted witness keys.
func (k *Keyring) Witnesses() int { return len(k.witnesses) }

// LogNames returns the trusted log key names and hashes, for messages.
func (k *Keyring) LogNames() []string {
	var out []string
	for _, v := range k.log {
		out = append(out, fmt.Sprintf("%s+%08x", v.Name(), v.KeyHash()))
	}
	return out
}

func (k *Keyring) verifiers() note.Verifiers {
	if k == nil {
		return note.VerifierList()
	}
	return note.VerifierList(append(append([]note.Verifier(nil), k.log...), k.witnesses...)...)
}

// WitnessedBy returns the names of the trusted witnesses that cosigned c.
func (k *Keyring) WitnessedBy(c *Checkpoint) []string {
	var out []string
	for _, s := range c.Sigs {
		for _, w := range k.witnesses {
			if s.Name == w.Name() && s.Hash == w.KeyHash() {
				out = append(out, s.Name)
			}
		}
	}
	return out
}

func abbreviate(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
