package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/clawtrail/clawtrail/httpapi"
	"github.com/clawtrail/clawtrail/ledger"
	"github.com/spf13/cobra"
	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"
)

type witnessFlags struct {
	log        string
	publicKeys []string
	keyFile    string
	name       string
	tenants    []string
	token      string
	interval   time.Duration
	once       bool
	state      string
}

func newWitnessCmd(e env) *cobra.Command {
	var wf witnessFlags
	cmd := &cobra.Command{
		Use:   "witness",
		Short: "Watch a log's checkpoints stay append-only and cosign them (C2SP tlog-cosignature)",
		Long: `witness polls a clawtrail log's checkpoints. It verifies each with the log's public key,
checks with a consistency proof that it extends the last checkpoint it cosigned (kept in --state),
and then cosigns it (cosignature/v1) and hands the cosignature to the log, which serves it with its
checkpoint. A log that rolls back or forks its history is refused and never cosigned again.

Verifiers require witnesses with clawtrail verify --witness-key KEY, where KEY is the witness's
public key: printed on stdout when witness creates its key (--key), on its first run.

The --token must be an auditor (or admin) key of the tenant(s) watched; --tenant needs the root key.

Exit status with --once: 0 cosigned (or nothing new), 1 the log misbehaved (rolled back, forked,
inconsistent, bad signature), 2 usage or I/O error, 3 log unreachable, 4 not authorised.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			w, err := newWitness(e, &wf, cmd.Flags().Changed("name"))
			if err != nil {
				return err
			}
			return w.run(cmd.Context())
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&wf.log, "log", "", "URL of the clawtrail log to witness (required)")
	fs.StringArrayVar(&wf.publicKeys, "public-key", nil, "the log's public key (required; repeatable: one per key of its rotation history)")
	fs.StringVar(&wf.keyFile, "key", "", "the witness's private key file; created when missing (default <state>/witness.key)")
	fs.StringVar(&wf.name, "name", "", "name of a newly created witness key (default <hostname>/clawtrail-witness)")
	fs.StringArrayVar(&wf.tenants, "tenant", nil, "tenant to witness (repeatable; root key only; default the key's own tenant)")
	fs.StringVar(&wf.token, "token", "", "API key, auditor or admin (default $CLAWTRAIL_TOKEN)")
	fs.DurationVar(&wf.interval, "interval", 10*time.Second, "how often to poll the log")
	fs.BoolVar(&wf.once, "once", false, "poll once and exit (for cron, or tests)")
	fs.StringVar(&wf.state, "state", "", "directory of the witness's state: the last checkpoint cosigned per log (default $CLAWTRAIL_CONFIG_DIR/witness, $XDG_CONFIG_HOME/clawtrail/witness or ~/.config/clawtrail/witness)")
	return cmd
}

// witness is a configured witness.
type witness struct {
	e        env
	wf       *witnessFlags
	keys     *ledger.Keyring // the log's keys
	logNames []string        // their names
	signer   note.Signer     // cosignature/v1
	vkey     string          // the witness's public key, cosignature/v1 form
	stateDir string
	token    string
}

func newWitness(e env, wf *witnessFlags, nameSet bool) (*witness, error) {
	if wf.log == "" {
		return nil, usagef("--log is required: the URL of the log to witness")
	}
	if !strings.HasPrefix(wf.log, "http://") && !strings.HasPrefix(wf.log, "https://") {
		return nil, usagef("--log %q must start with http:// or https://", wf.log)
	}
	if len(wf.publicKeys) == 0 {
		return nil, usagef("--public-key is required: the log's public key (clawtrail keys public)")
	}
	if wf.interval <= 0 {
		return nil, usagef("--interval must be positive")
	}
	keys, err := ledger.NewKeyring(wf.publicKeys...)
	if err != nil {
		return nil, usagef("--public-key: %v", err)
	}
	w := &witness{e: e, wf: wf, keys: keys}
	for _, k := range wf.publicKeys {
		name, _, _ := strings.Cut(strings.TrimSpace(k), "+")
		w.logNames = append(w.logNames, name)
	}
	w.token = wf.token
	if w.token == "" {
		w.token = e.getenv("CLAWTRAIL_TOKEN")
	}
	if w.token == "" {
		return nil, usagef("no API key: set CLAWTRAIL_TOKEN or pass --token (an auditor key of the log)")
	}
	w.stateDir = wf.state
	if w.stateDir == "" {
		base := configDir(e)
		if base == "" {
			return nil, usagef("no state directory: pass --state, or set CLAWTRAIL_CONFIG_DIR or HOME")
		}
		w.stateDir = filepath.Join(base, "witness")
	}
	if err := os.MkdirAll(w.stateDir, 0o700); err != nil {
		return nil, usagef("state directory: %v", err)
	}
	keyFile := wf.keyFile
	if keyFile == "" {
		keyFile = filepath.Join(w.stateDir, "witness.key")
	}
	if err := w.loadKey(keyFile, nameSet); err != nil {
		return nil, err
	}
	for _, n := range w.logNames {
		if n == w.signer.Name() {
			return nil, usagef("the witness key is named %q like the log's key; give the witness its own name (--name)", n)
		}
	}
	return w, nil
}

// configDir is the user's clawtrail configuration directory (client memory
// of checkpoints, witness state): $CLAWTRAIL_CONFIG_DIR, else
// $XDG_CONFIG_HOME/clawtrail, else ~/.config/clawtrail; "" when none.
func configDir(e env) string {
	if d := e.getenv("CLAWTRAIL_CONFIG_DIR"); d != "" {
		return d
	}
	if x := e.getenv("XDG_CONFIG_HOME"); x != "" {
		return filepath.Join(x, "clawtrail")
	}
	if h := e.getenv("HOME"); h != "" {
		return filepath.Join(h, ".config", "clawtrail")
	}
	return ""
}

// loadKey reads the witness's private key, creating it when the file does
// not exist; a new key's public key is printed on stdout.
func (w *witness) loadKey(path string, nameSet bool) error {
	raw, err := os.ReadFile(path)
	created := false
	switch {
	case errors.Is(err, os.ErrNotExist):
		name := w.wf.name
		if name == "" {
			host, _ := os.Hostname()
			name = witnessHost(host) + "/clawtrail-witness"
		}
		skey, _, err := ledger.GenerateSigningKey(name)
		if err != nil {
			return usagef("--name %q: %v", name, err)
		}
		if err := writeFileAtomic(path, []byte(skey+"\n"), 0o600); err != nil {
			return fmt.Errorf("write the witness key: %w", err)
		}
		raw, created = []byte(skey), true
	case err != nil:
		return usagef("witness key: %v", err)
	}
	skey := strings.TrimSpace(string(raw))
	signer, err := fnote.NewSignerForCosignatureV1(skey)
	if err != nil {
		return usagef("witness key %s: %v", path, err)
	}
	if nameSet && signer.Name() != w.wf.name {
		return usagef("the witness key in %s is named %q, not %q", path, signer.Name(), w.wf.name)
	}
	vkey, err := ledger.VerifierKey(skey)
	if err == nil {
		// The cosignature/v1 form: its key hash is the one the witness's
		// signature lines carry (ledger.Keyring.AddWitnessKey takes both).
		vkey, err = fnote.VKeyToCosignatureV1(vkey)
	}
	if err != nil {
		return usagef("witness key %s: %v", path, err)
	}
	w.signer, w.vkey = signer, vkey
	if created {
		fmt.Fprintf(w.e.stderr, "witness: created the witness key %s; its public key (give it to clawtrail verify --witness-key):\n", path)
		fmt.Fprintln(w.e.stdout, vkey)
	}
	return nil
}

func witnessHost(h string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(h)) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '-' {
			b.WriteRune(r)
		}
	}
	if b.Len() == 0 {
		return "localhost"
	}
	return b.String()
}

func (w *witness) run(ctx context.Context) error {
	tenants := w.wf.tenants
	if len(tenants) == 0 {
		tenants = []string{""} // the key's own tenant
	}
	for {
		var errs []error
		for _, t := range tenants {
			if err := w.poll(ctx, t); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				if len(tenants) > 1 || !w.wf.once {
					err = fmt.Errorf("tenant %s: %w", tenantLabel(t), err)
				}
				errs = append(errs, err)
			}
		}
		if w.wf.once {
			return errors.Join(errs...) // exitCode finds the sentinels inside
		}
		for _, err := range errs {
			fmt.Fprintf(w.e.stderr, "witness: %s %v\n", time.Now().UTC().Format(time.RFC3339), err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(w.wf.interval):
		}
	}
}

func tenantLabel(t string) string {
	if t == "" {
		return "(the key's own)"
	}
	return t
}

// witnessState is what the witness remembers of a log: the last checkpoint
// it cosigned. It is written only after that checkpoint was proven
// consistent with the one before.
type witnessState struct {
	Origin     string    `json:"origin"`
	Size       uint64    `json:"size"`
	Root       string    `json:"root"` // base64
	Checkpoint string    `json:"checkpoint"`
	CosignedAt time.Time `json:"cosigned_at"`
}

func (w *witness) statePath(origin string) string {
	return filepath.Join(w.stateDir, url.PathEscape(origin)+".json")
}

func (w *witness) loadState(origin string) (*witnessState, [32]byte, error) {
	path := w.statePath(origin)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, [32]byte{}, nil
	}
	if err != nil {
		return nil, [32]byte{}, usagef("witness state: %v", err)
	}
	var st witnessState
	err = json.Unmarshal(b, &st)
	var root []byte
	if err == nil {
		root, err = base64.StdEncoding.DecodeString(st.Root)
		if err == nil && len(root) != 32 {
			err = fmt.Errorf("root of %d bytes", len(root))
		}
	}
	if err == nil && st.Origin != origin {
		err = fmt.Errorf("it is for origin %q", st.Origin)
	}
	if err != nil {
		return nil, [32]byte{}, usagef("the witness state %s is damaged (%v); remove it only if you accept to trust the log's next checkpoint afresh", path, err)
	}
	return &st, [32]byte(root), nil
}

func (w *witness) saveState(st witnessState) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	if err := writeFileAtomic(w.statePath(st.Origin), append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("save the witness state: %w", err)
	}
	return nil
}

// writeFileAtomic writes a file through a synced temporary file and a
// rename, so that a crash leaves the old content or the new, never a mix.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(perm)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// poll witnesses one tenant's latest checkpoint.
func (w *witness) poll(ctx context.Context, tenant string) error {
	c := &httpapi.Client{BaseURL: w.wf.log, Token: w.token, Tenant: tenant, HTTP: &http.Client{Timeout: 60 * time.Second}}
	resp, err := c.Do(ctx, http.MethodGet, "/v1/checkpoint", nil, nil, nil)
	if err != nil {
		return err
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10+1))
	resp.Body.Close()
	if err != nil {
		return fmt.Errorf("%w: read the log's checkpoint: %v", httpapi.ErrUnreachable, err)
	}
	// Only the log's keys: the cosignatures of other witnesses the log
	// serves with its checkpoint are ignored (and not carried over).
	cp, err := ledger.OpenCheckpoint(raw, "", w.keys)
	if err != nil {
		return fmt.Errorf("%w: the log's checkpoint does not verify with --public-key: %v", errCheckFailed, err)
	}
	if !w.originOK(cp.Origin, tenant) {
		return fmt.Errorf("%w: the log's checkpoint is for origin %q, not a tenant of the log %s", errCheckFailed, cp.Origin, strings.Join(w.logNames, " or "))
	}
	if cp.Size == 0 {
		fmt.Fprintf(w.e.stderr, "witness: %s is empty; nothing to cosign yet\n", cp.Origin)
		return nil
	}
	old, oldRoot, err := w.loadState(cp.Origin)
	if err != nil {
		return err
	}
	switch {
	case old == nil:
		fmt.Fprintf(w.e.stderr, "witness: first checkpoint seen of %s (size %d): trusting it as the start of the log's history\n", cp.Origin, cp.Size)
	case cp.Size < old.Size:
		return fmt.Errorf("%w: the log %s rolled back: its checkpoint has size %d, but this witness cosigned size %d before; refusing to cosign", errCheckFailed, cp.Origin, cp.Size, old.Size)
	case cp.Size == old.Size && cp.Root != oldRoot:
		return fmt.Errorf("%w: the log %s forked: its checkpoint of size %d has root %s, but this witness cosigned root %s at that size; refusing to cosign", errCheckFailed, cp.Origin, cp.Size, b64(cp.Root[:]), old.Root)
	case cp.Size == old.Size:
		if w.alreadyCosigned(raw, cp.Origin) {
			return nil // nothing new
		}
		// The log lost or never got the cosignature: hand it in again.
	default:
		var p httpapi.ConsistencyResponse
		params := url.Values{"from": {strconv.FormatUint(old.Size, 10)}, "to": {strconv.FormatUint(cp.Size, 10)}}
		if err := c.GetJSON(ctx, "/v1/proof/consistency", params, &p); err != nil {
			return fmt.Errorf("the consistency proof from size %d to %d: %w", old.Size, cp.Size, err)
		}
		if p.From != old.Size || p.To != cp.Size {
			return fmt.Errorf("%w: the log %s answered a consistency proof from %d to %d where %d to %d was asked", errCheckFailed, cp.Origin, p.From, p.To, old.Size, cp.Size)
		}
		if err := ledger.VerifyConsistency(old.Size, cp.Size, p.Hashes, oldRoot[:], cp.Root[:]); err != nil {
			return fmt.Errorf("%w: the log %s is not append-only: its checkpoint of size %d is not consistent with the one of size %d this witness cosigned (%v); refusing to cosign", errCheckFailed, cp.Origin, cp.Size, old.Size, err)
		}
	}
	text, _, _ := bytes.Cut(raw, []byte("\n\n"))
	// cp.Sigs are the log's verified signatures: note.Sign keeps them,
	// then appends the witness's cosignature line.
	signed, err := note.Sign(&note.Note{Text: string(text) + "\n", Sigs: cp.Sigs}, w.signer)
	if err != nil {
		return fmt.Errorf("cosign: %w", err)
	}
	// The state moves on before the cosignature leaves: a witness must never
	// have cosigned a checkpoint its state does not reflect.
	if old == nil || cp.Size != old.Size {
		st := witnessState{Origin: cp.Origin, Size: cp.Size, Root: b64(cp.Root[:]), Checkpoint: string(signed), CosignedAt: time.Now().UTC().Truncate(time.Second)}
		if err := w.saveState(st); err != nil {
			return err
		}
	}
	h := http.Header{"Content-Type": {"text/plain; charset=utf-8"}}
	resp, err = c.Do(ctx, http.MethodPost, "/v1/checkpoint/cosignature", nil, bytes.NewReader(signed), h)
	if err != nil {
		return fmt.Errorf("hand the cosignature to the log: %w", err)
	}
	var res httpapi.CosignatureResponse
	err = json.NewDecoder(resp.Body).Decode(&res)
	resp.Body.Close()
	if err != nil {
		return fmt.Errorf("hand the cosignature to the log: %w", err)
	}
	fmt.Fprintf(w.e.stderr, "witness: cosigned %s at size %d\n", cp.Origin, cp.Size)
	return nil
}

// originOK checks the origin names a tenant of the log: the given one, or
// any when none is given (the key's own).
func (w *witness) originOK(origin, tenant string) bool {
	for _, n := range w.logNames {
		if tenant != "" && origin == ledger.Origin(n, tenant) {
			return true
		}
		if rest, ok := strings.CutPrefix(origin, n+"/"); tenant == "" && ok && rest != "" && !strings.Contains(rest, "/") {
			return true
		}
	}
	return false
}

// alreadyCosigned reports whether the log serves its checkpoint with this
// witness's valid cosignature.
func (w *witness) alreadyCosigned(raw []byte, origin string) bool {
	keys, err := ledger.NewKeyring(w.wf.publicKeys...)
	if err != nil || keys.AddWitnessKey(w.vkey) != nil {
		return false
	}
	cp, err := ledger.OpenCheckpoint(raw, origin, keys)
	return err == nil && len(keys.WitnessedBy(cp)) > 0
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
