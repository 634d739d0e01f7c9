package sqlite

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// BackupManifest is the first entry of a backup archive.
type BackupManifest struct {
	Format    string    `json:"format"` // "clawtrail-backup/1"
	CreatedAt time.Time `json:"created_at"`
	LogName   string    `json:"log_name"`
	Encrypted bool      `json:"encrypted"` // bodies are sealed: restore needs the same master key
	LedgerSHA string    `json:"ledger_sha256"`
	Ledger    int64     `json:"ledger_bytes"`
}

// BackupFormat names the archive layout Backup writes and Restore reads.
const BackupFormat = "clawtrail-backup/1"

// Backup writes a consistent copy of the store to w while ingest goes on:
// a gzip'd tar of a manifest, the ledger database (VACUUM INTO reads one
// snapshot: every event committed before it began, with its checkpoints,
// and nothing half-written) and the signing key. The search index is left
// out: it is derived from the ledger and rebuilt after a restore. The
// master key is never in a backup; with encryption on, keep it apart.
func (s *Store) Backup(ctx context.Context, w io.Writer) (BackupManifest, error) {
	tmp, err := os.MkdirTemp(s.cfg.Dir, ".backup-")
	if err != nil {
		return BackupManifest{}, fmt.Errorf("backup: %w", err)
	}
	defer os.RemoveAll(tmp)
	snap := filepath.Join(tmp, "ledger.db")
	// A connection of its own: the readers are query_only, which VACUUM
	// INTO (it writes the copy) is not.
	db, err := sql.Open("sqlite", dsn(filepath.Join(s.cfg.Dir, "ledger.db"), "busy_timeout(10000)"))
	if err != nil {
		return BackupManifest{}, err
	}
	_, err = db.ExecContext(ctx, `VACUUM INTO ?`, snap)
	db.Close()
	if err != nil {
		return BackupManifest{}, fmt.Errorf("backup: snapshot of the ledger: %w", err)
	}
	f, err := os.Open(snap)
	if err != nil {
		return BackupManifest{}, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return BackupManifest{}, err
	}
	s.signMu.RLock()
	keyPath := s.cfg.SigningKeyFile
	s.signMu.RUnlock()
	key, err := os.ReadFile(keyPath)
	if err != nil {
		return BackupManifest{}, fmt.Errorf("backup: signing key: %w", err)
	}
	m := BackupManifest{Format: BackupFormat, CreatedAt: s.now().UTC(), LogName: s.logName, Encrypted: s.Encrypted(),
		LedgerSHA: hex.EncodeToString(h.Sum(nil)), Ledger: n}
	mb, _ := json.MarshalIndent(m, "", "  ")
	zw := gzip.NewWriter(w)
	tw := tar.NewWriter(zw)
	add := func(name string, size int64, r io.Reader) error {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o600, Size: size, ModTime: m.CreatedAt, Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		_, err := io.Copy(tw, r)
		return err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return m, err
	}
	for _, e := range []struct {
		name string
		size int64
		r    io.Reader
	}{{"manifest.json", int64(len(mb)), bytes.NewReader(mb)}, {"ledger.db", n, f}, {"signing.key", int64(len(key)), bytes.NewReader(key)}} {
		if err := add(e.name, e.size, e.r); err != nil {
			return m, fmt.Errorf("backup: write %s: %w", e.name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return m, err
	}
	return m, zw.Close()
}

// Restore unpacks a backup archive into dir, which must not hold a ledger
// yet, checking the ledger's hash against the manifest; files are moved into
// place only once the whole archive has been read and checked. Run VerifyDir on dir afterwards; the search index is
// rebuilt when a server opens it.
func Restore(r io.Reader, dir string) (BackupManifest, error) {
	var m BackupManifest
	if _, err := os.Stat(filepath.Join(dir, "ledger.db")); err == nil {
		return m, fmt.Errorf("restore: %s already holds a ledger; restore into a new directory", dir)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return m, fmt.Errorf("restore: %w", err)
	}
	zr, err := gzip.NewReader(r)
	if err != nil {
		return m, fmt.Errorf("restore: not a clawtrail backup (gzip): %w", err)
	}
	tr := tar.NewReader(zr)
	tmp, err := os.MkdirTemp(dir, ".restore-")
	if err != nil {
		return m, err
	}
	defer os.RemoveAll(tmp)
	seen := map[string]bool{}
	var sum string
	for {
		hd, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return m, fmt.Errorf("restore: damaged archive: %w", err)
		}
		switch hd.Name {
		case "manifest.json":
			if err := json.NewDecoder(io.LimitReader(tr, 1<<20)).Decode(&m); err != nil {
				return m, fmt.Errorf("restore: manifest: %w", err)
			}
			if m.Format != BackupFormat {
				return m, fmt.Errorf("restore: backup format %q, this clawtrail reads %q", m.Format, BackupFormat)
			}
		case "ledger.db", "signing.key":
			f, err := os.OpenFile(filepath.Join(tmp, hd.Name), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
			if err != nil {
				return m, err
			}
			h := sha256.New()
			_, err = io.Copy(io.MultiWriter(f, h), tr)
			if err == nil {
				err = f.Sync()
			}
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return m, fmt.Errorf("restore: %s: %w", hd.Name, err)
			}
			if hd.Name == "ledger.db" {
				sum = hex.EncodeToString(h.Sum(nil))
			}
		default:
			return m, fmt.Errorf("restore: unexpected entry %q in the archive", hd.Name)
		}
		seen[hd.Name] = true
	}
	for _, need := range []string{"manifest.json", "ledger.db", "signing.key"} {
		if !seen[need] {
			return m, fmt.Errorf("restore: the archive has no %s (cut short?)", need)
		}
	}
	if sum != m.LedgerSHA {
		return m, fmt.Errorf("restore: ledger.db does not match the manifest's hash (damaged archive)")
	}
	for _, name := range []string{"signing.key", "ledger.db"} {
		if err := os.Rename(filepath.Join(tmp, name), filepath.Join(dir, name)); err != nil {
			return m, fmt.Errorf("restore: %w", err)
		}
	}
	return m, nil
}
