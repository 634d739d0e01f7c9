package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"github.com/clawtrail/clawtrail"
	"github.com/clawtrail/clawtrail/ledger"
)

// Witness cosignatures (C2SP tlog-cosignature). A witness fetches a tenant's
// checkpoint, checks that it is consistent with the last one it saw, and
// signs it with a cosignature/v1 key; it hands the log the checkpoint note
// with its signature line appended (POST /v1/checkpoint/cosignature). The
// log keeps the lines in the cosignatures table, next to the history
// checkpoint of that size, and serves them appended to it.
//
// The log does not verify a witness's signature: it does not know (and need
// not trust) any witness key. Only verifiers, who choose the witnesses they
// trust (clawtrail verify --witness-key), can tell a real cosignature from a
// forged line. What the log does check is that the note is its own
// checkpoint, of its own tree: a cosignature on anything else is refused.

// MaxWitnesses is how many distinct witness keys may cosign one checkpoint.
const MaxWitnesses = 8

// sigLine is one signature line of a signed note.
type sigLine struct {
	name string
	hash uint32
	line string // "— name base64\n"
}

// parseSigLines returns the signature lines of a signed note (the lines
// after the first blank line).
func parseSigLines(note []byte) ([]sigLine, error) {
	_, sigs, ok := bytes.Cut(note, []byte("\n\n"))
	if !ok {
		return nil, errors.New("not a signed note")
	}
	var out []sigLine
	for _, l := range strings.SplitAfter(string(sigs), "\n") {
		if l == "" {
			continue
		}
		rest, ok := strings.CutPrefix(l, "— ")
		if !ok || !strings.HasSuffix(rest, "\n") {
			return nil, fmt.Errorf("malformed signature line %q", abbrevLine(l))
		}
		name, b64, ok := strings.Cut(strings.TrimSuffix(rest, "\n"), " ")
		raw, err := base64.StdEncoding.DecodeString(b64)
		if !ok || name == "" || err != nil || len(raw) < 5 {
			return nil, fmt.Errorf("malformed signature line %q", abbrevLine(l))
		}
		out = append(out, sigLine{name: name, hash: binary.BigEndian.Uint32(raw), line: l})
	}
	return out, nil
}

func abbrevLine(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}

// CosignatureLines returns the signature lines of a note that are not by
// the log named logName: the witness cosignatures.
func CosignatureLines(note []byte, logName string) []string {
	lines, err := parseSigLines(note)
	if err != nil {
		return nil
	}
	var out []string
	for _, l := range lines {
		if l.name != logName {
			out = append(out, l.line)
		}
	}
	return out
}

// AddCosignature stores the witness cosignatures on a tenant's checkpoint.
// note is a checkpoint signed by this log (by any key of its key history)
// with one or more witness signature lines appended. The checkpoint must be
// of this log's tree: its size at most the tree's and its root the tree's
// root at that size. The checkpoint itself is kept in the history, so that
// the cosignatures are served with it. It returns how many cosignature
// lines were stored.
//
// Unless the operator names the witnesses it accepts (Config.WitnessKeys,
// serve --witness-keys), the witness signatures are not verified here (the
// log knows no witness keys); verifiers check them against the witness keys
// they trust. A line stored is never replaced.
func (s *Store) AddCosignature(ctx context.Context, tenant string, note []byte) (int, error) {
	keys, err := s.historyKeyring(ctx, s.reader)
	if err != nil {
		return 0, err
	}
	for _, w := range s.cfg.WitnessKeys {
		if err := keys.AddWitnessKey(w); err != nil {
			return 0, err
		}
	}
	cp, err := ledger.OpenCheckpoint(note, s.Origin(tenant), keys)
	if err != nil {
		return 0, &clawtrail.InvalidError{Message: fmt.Sprintf("not a checkpoint of this log's tenant %q: %v", tenant, err)}
	}
	tid, ok := s.tenantID(tenant)
	cur := s.TreeSize(tenant)
	if !ok || cp.Size > cur {
		return 0, &clawtrail.InvalidError{Message: fmt.Sprintf("checkpoint of size %d does not match this log's tree: the tree has size %d", cp.Size, cur)}
	}
	root, err := ledger.RootAt(cp.Size, newNodeReader(ctx, s.reader, tid, tenant, cp.Size).node)
	if err != nil {
		return 0, err
	}
	if root != cp.Root {
		return 0, &clawtrail.InvalidError{Message: fmt.Sprintf("checkpoint of size %d does not match this log's tree: its root differs from the tree's at that size", cp.Size)}
	}
	lines, err := parseSigLines(note)
	if err != nil {
		return 0, &clawtrail.InvalidError{Message: err.Error()}
	}
	type nameHash struct {
		name string
		hash uint32
	}
	logSig := map[nameHash]bool{}
	verified := map[nameHash]bool{}
	for _, sig := range cp.Sigs {
		verified[nameHash{sig.Name, sig.Hash}] = true
		if sig.Name == s.logName {
			logSig[nameHash{sig.Name, sig.Hash}] = true
		}
	}
	var logLines strings.Builder
	witness := map[nameHash]string{}
	var order []nameHash
	for _, l := range lines {
		nh := nameHash{l.name, l.hash}
		switch {
		case logSig[nh]:
			logLines.WriteString(l.line)
			continue
		case l.name == s.logName:
			return 0, &clawtrail.InvalidError{Message: fmt.Sprintf("a signature line is named after this log (%s) but no key of its history made it (key hash %08x)", l.name, l.hash)}
		case len(s.cfg.WitnessKeys) > 0 && !verified[nh]:
			// The operator named the witnesses this log accepts: a line
			// by anyone else, or one that does not verify, is refused.
			return 0, &clawtrail.InvalidError{Message: fmt.Sprintf("the cosignature by %s (key %08x) is not by a witness this log accepts (serve --witness-keys) or does not verify", l.name, l.hash)}
		}
		if _, dup := witness[nh]; !dup {
			order = append(order, nh)
		}
		witness[nh] = l.line
	}
	if len(order) == 0 {
		return 0, &clawtrail.InvalidError{Message: "the note carries no witness cosignature, only the log's own signature"}
	}
	text, _, _ := bytes.Cut(note, []byte("\n\n"))
	logNote := string(text) + "\n\n" + logLines.String()

	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	have := map[nameHash]bool{}
	rows, err := tx.QueryContext(ctx, `SELECT name, key_hash FROM cosignatures WHERE tid=? AND size=?`, tid, int64(cp.Size))
	if err != nil {
		return 0, err
	}
	for rows.Next() {
		var nh nameHash
		var h int64
		if err := rows.Scan(&nh.name, &h); err != nil {
			rows.Close()
			return 0, err
		}
		nh.hash = uint32(h)
		have[nh] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	n := len(have)
	for _, nh := range order {
		if !have[nh] {
			n++
		}
	}
	if n > MaxWitnesses {
		return 0, &clawtrail.InvalidError{Message: fmt.Sprintf("the checkpoint of size %d would carry cosignatures by %d witnesses; at most %d are kept", cp.Size, n, MaxWitnesses)}
	}
	now := s.now().UnixNano()
	if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO checkpoints(tid, size, created_at, note) VALUES (?,?,?,?)`,
		tid, int64(cp.Size), now, logNote); err != nil {
		return 0, err
	}
	for _, nh := range order {
		// A line stored before is never replaced: nobody can overwrite a
		// witness's cosignature with another line under its name.
		if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO cosignatures(tid, size, name, key_hash, line, created_at) VALUES (?,?,?,?,?,?)`,
			tid, int64(cp.Size), nh.name, int64(nh.hash), witness[nh], now); err != nil {
			return 0, err
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, err
	}
	return len(order), nil
}

// WitnessedCheckpoint returns a tenant's largest history checkpoint that
// carries witness cosignatures, with the cosignature lines appended; nil
// when no checkpoint has any.
func (s *Store) WitnessedCheckpoint(ctx context.Context, tenant string) ([]byte, error) {
	tid, ok := s.tenantID(tenant)
	if !ok {
		return nil, nil
	}
	var size int64
	var note string
	err := s.reader.QueryRowContext(ctx, `SELECT c.size, c.note FROM cosignatures w
		JOIN checkpoints c ON c.tid = w.tid AND c.size = w.size
		WHERE w.tid = ? ORDER BY w.size DESC LIMIT 1`, tid).Scan(&size, &note)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	rows, err := s.reader.QueryContext(ctx, `SELECT line FROM cosignatures WHERE tid=? AND size=? ORDER BY created_at, name`, tid, size)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []byte(note)
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return nil, err
		}
		out = append(out, line...)
	}
	return out, rows.Err()
}
