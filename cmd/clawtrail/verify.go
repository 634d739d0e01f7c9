package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
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

	"github.com/clawtrail/clawtrail"
	"github.com/clawtrail/clawtrail/crypt"
	"github.com/clawtrail/clawtrail/httpapi"
	"github.com/clawtrail/clawtrail/ledger"
	"github.com/clawtrail/clawtrail/sqlite"
	"github.com/spf13/cobra"
)

type verifyFlags struct {
	bundle        string
	publicKeys    []string
	witnessKeys   []string
	quorum        int
	format        string
	noMemory      bool
	masterKeyFile string
}

func newVerifyCmd(e env) *cobra.Command {
	var cf clientFlags
	var vf verifyFlags
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Prove the ledger was not altered: against the server, a data directory (offline) or an evidence bundle",
		Long: `verify recomputes every leaf from the stored events, the Merkle tree from the leaves, and checks
every signed checkpoint, the stored tiles and the search index against them. Each problem is
reported with its seq and kind (modified, missing, inserted, reordered, truncated, rolled_back,
forged_checkpoint, bad_signature, rewritten, tile, index, witness).

Against a server (the default) it also remembers the last checkpoint it verified per server and
tenant, and demands a consistency proof from it on the next run: a server that rewrote its history
since is caught even if its database is internally consistent. --public-key pins the log's key
instead of trusting the one the server or data directory offers.

Exit status: 0 intact, 1 tampered, 2 usage or I/O error, 3 server unreachable, 4 not authorised.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if vf.format != "text" && vf.format != "json" {
				return usagef("--format must be text or json")
			}
			keys, err := ledger.NewKeyring(vf.publicKeys...)
			if err != nil {
				return usagef("--public-key: %v", err)
			}
			for _, w := range vf.witnessKeys {
				if err := keys.AddWitnessKey(w); err != nil {
					return usagef("--witness-key: %v", err)
				}
			}
			if vf.quorum < 0 {
				return usagef("--witness-quorum must be 1 or more")
			}
			if vf.quorum == 0 {
				vf.quorum = keys.Witnesses()
			}
			if vf.quorum > keys.Witnesses() {
				return usagef("--witness-quorum %d needs at least as many different --witness-key", vf.quorum)
			}
			keys.Quorum = vf.quorum
			var reports []*ledger.Report
			switch {
			case vf.bundle != "" && cf.data != "":
				return usagef("give --bundle or --data, not both")
			case vf.bundle != "":
				reports, err = verifyBundleFile(vf.bundle, keys)
			case cf.data != "":
				reports, err = verifyData(cmd.Context(), e, cf, vf, keys)
			default:
				reports, err = verifyServer(cmd.Context(), e, cf, vf, keys)
			}
			if err != nil {
				return err
			}
			return printReports(e.stdout, reports, vf.format)
		},
	}
	cf.register(cmd)
	cmd.Flags().Lookup("data").Usage = "verify this data directory offline, without a server"
	fs := cmd.Flags()
	fs.StringVar(&vf.bundle, "bundle", "", "verify this evidence bundle offline (from logs export --bundle)")
	fs.StringArrayVar(&vf.publicKeys, "public-key", nil, "trust only this log public key (repeatable: one per key in the rotation history)")
	fs.StringArrayVar(&vf.witnessKeys, "witness-key", nil, "require a cosignature by this witness key (repeatable)")
	fs.IntVar(&vf.quorum, "witness-quorum", 0, "how many of the --witness-key witnesses must have cosigned (default all)")
	fs.StringVar(&vf.format, "format", "text", "text or json")
	fs.BoolVar(&vf.noMemory, "no-memory", false, "neither read nor update the remembered checkpoints")
	fs.StringVar(&vf.masterKeyFile, "master-key-file", "", "with --data: open encrypted bodies to check their commitments (default $CLAWTRAIL_MASTER_KEY_FILE; without it they are counted as sealed, the tree still checked)")
	return cmd
}

func verifyBundleFile(path string, keys *ledger.Keyring) ([]*ledger.Report, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, usagef("%v", err)
	}
	defer f.Close()
	rep, err := ledger.VerifyBundle(f, keys)
	if err != nil {
		// An unreadable bundle is damage too, not a usage problem.
		return []*ledger.Report{{Tenant: "?", Findings: []ledger.Finding{{Seq: -1, SeqEnd: -1, Kind: ledger.KindModified, Message: err.Error()}}}}, nil
	}
	return []*ledger.Report{rep}, nil
}

func verifyData(ctx context.Context, e env, cf clientFlags, vf verifyFlags, keys *ledger.Keyring) ([]*ledger.Report, error) {
	abs, err := filepath.Abs(cf.data)
	if err != nil {
		return nil, usagef("%v", err)
	}
	mem := newMemory(e, "file://"+abs, vf.noMemory)
	opts := sqlite.VerifyOptions{Tenant: cf.tenant, Keys: keys, Witnesses: vf.quorum, Remembered: map[string][]byte{}}
	if mk := vf.masterKeyFile; mk != "" || e.getenv("CLAWTRAIL_MASTER_KEY_FILE") != "" {
		if mk == "" {
			mk = e.getenv("CLAWTRAIL_MASTER_KEY_FILE")
		}
		k, err := crypt.LoadMasterKey(mk)
		if err != nil {
			return nil, usagef("%v", err)
		}
		opts.MasterKey = &k
	}
	if cf.tenant != "" {
		if note := mem.load(cf.tenant); note != nil {
			opts.Remembered[cf.tenant] = note
		}
	} else {
		opts.Remembered = mem.loadAll()
	}
	bar := newBar(e.stderr)
	opts.Progress = bar.update
	reports, err := sqlite.VerifyDir(ctx, cf.data, opts)
	bar.done()
	if err != nil {
		return nil, usagef("%v", err)
	}
	for _, r := range reports {
		if r.OK() && r.Checkpoint != "" {
			mem.save(r.Tenant, []byte(r.Checkpoint))
		}
	}
	return reports, nil
}

func verifyServer(ctx context.Context, e env, cf clientFlags, vf verifyFlags, keys *ledger.Keyring) ([]*ledger.Report, error) {
	c, err := cf.client(e)
	if err != nil {
		return nil, err
	}
	var notes []string
	if keys.Len() == 0 {
		var sk httpapi.SigningKeysResponse
		if err := c.GetJSON(ctx, "/v1/signing-keys", nil, &sk); err != nil {
			return nil, err
		}
		for _, k := range sk.Keys {
			if err := keys.AddLogKey(k.VKey); err != nil {
				return nil, fmt.Errorf("the server's key history: %w", err)
			}
		}
		notes = append(notes, "trusting the signing keys the server publishes; pin them with --public-key (clawtrail keys public) to catch a server that re-signed a rewritten ledger")
	}
	var hist httpapi.CheckpointsResponse
	if err := c.GetJSON(ctx, "/v1/checkpoints", nil, &hist); err != nil {
		return nil, err
	}
	tenant := tenantOfOrigin(hist.Origin)
	latest, err := getText(ctx, c, "/v1/checkpoint")
	if err != nil {
		return nil, err
	}
	v := ledger.NewVerifier(tenant, hist.Origin, keys)
	for _, n := range notes {
		v.Note("%s", n)
	}
	in := []ledger.CheckpointInput{{Note: latest, Source: "latest"}}
	for _, h := range hist.Checkpoints {
		in = append(in, ledger.CheckpointInput{Note: []byte(h.Note), Source: "history", CreatedAt: h.CreatedAt})
	}
	mem := newMemory(e, c.BaseURL, vf.noMemory)
	remembered := mem.load(tenant)
	if remembered != nil {
		in = append(in, ledger.CheckpointInput{Note: remembered, Source: "remembered"})
	}
	if vf.quorum > 0 {
		w, err := getText(ctx, c, "/v1/checkpoint", "witnessed", "true")
		switch {
		case errors.Is(err, clawtrail.ErrNotFound) || err == nil && len(w) == 0:
			v.Fail(ledger.Finding{Seq: -1, SeqEnd: -1, Kind: ledger.KindWitness, Message: "the server has no witnessed checkpoint"})
		case err != nil:
			return nil, err
		default:
			in = append(in, ledger.CheckpointInput{Note: w, Source: "witnessed"})
			defer v.RequireWitnesses(w, vf.quorum)
		}
	}
	v.Checkpoints(in)
	cur, err := ledger.OpenCheckpoint(latest, hist.Origin, keys)
	if err != nil {
		// Reported by Checkpoints; nothing can be proven against it.
		return []*ledger.Report{v.Abandon("the events were not checked: the latest checkpoint is not trusted")}, nil
	}
	if remembered != nil {
		if err := checkRemembered(ctx, c, v, remembered, cur, hist.Origin, keys); err != nil {
			return nil, err
		}
	}
	// Tombstones and config changes first: they decide which deleted
	// bodies were allowed.
	special, err := readStream(ctx, c, url.Values{"to": {strconv.FormatUint(cur.Size, 10)}, "special": {"true"}})
	if err != nil {
		return nil, err
	}
	v.Deletions = ledger.NewDeletions(special)
	bar := newBar(e.stderr)
	resp, err := c.Do(ctx, http.MethodGet, "/v1/ledger", url.Values{"to": {strconv.FormatUint(cur.Size, 10)}}, nil, nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	sr := ledger.NewStreamReader(resp.Body)
	var rec ledger.Record
	var n int64
	for {
		err := sr.Next(&rec)
		if err == io.EOF {
			break
		}
		if err != nil {
			// A broken transfer is not evidence of tampering: no verdict.
			return nil, fmt.Errorf("%w: the ledger stream broke off after %d events: %v", httpapi.ErrUnreachable, n, err)
		}
		v.Add(&rec)
		if n++; n%4096 == 0 {
			bar.update(n, int64(cur.Size))
		}
	}
	bar.update(n, int64(cur.Size))
	bar.done()
	var cov struct {
		sqlite.Coverage
	}
	if err := c.GetJSON(ctx, "/v1/index/coverage", nil, &cov); err != nil {
		v.Note("search index not checked: %v", err)
	} else {
		for _, f := range cov.Findings() {
			v.Fail(f)
		}
		if cov.Behind > 0 {
			v.Note("the search index is %d event(s) behind the ledger (it is catching up)", cov.Behind)
		}
	}
	rep := v.Finish(-1)
	if rep.OK() {
		mem.save(tenant, latest)
	}
	return []*ledger.Report{rep}, nil
}

// checkRemembered demands a consistency proof from the remembered checkpoint
// to the current one. A server that cannot be asked is an error (no
// verdict), one whose proof fails is a finding.
func checkRemembered(ctx context.Context, c *httpapi.Client, v *ledger.Verifier, remembered []byte, cur *ledger.Checkpoint, origin string, keys *ledger.Keyring) error {
	old, err := ledger.OpenCheckpoint(remembered, origin, keys)
	if err != nil || old.Size > cur.Size {
		return nil // reported by the verifier (forged, or rolled back)
	}
	var p httpapi.ConsistencyResponse
	params := url.Values{"from": {strconv.FormatUint(old.Size, 10)}, "to": {strconv.FormatUint(cur.Size, 10)}}
	if err := c.GetJSON(ctx, "/v1/proof/consistency", params, &p); err != nil {
		return fmt.Errorf("ask for a consistency proof from the remembered checkpoint (size %d): %w", old.Size, err)
	}
	if err := ledger.VerifyConsistency(old.Size, cur.Size, p.Hashes, old.Root[:], cur.Root[:]); err != nil {
		v.Fail(ledger.Finding{Seq: -1, SeqEnd: -1, Kind: ledger.KindRewritten, Message: fmt.Sprintf("the current checkpoint (size %d) is not consistent with the one verified before (size %d): %v", cur.Size, old.Size, err)})
	}
	return nil
}

func tenantOfOrigin(origin string) string {
	i := strings.LastIndexByte(origin, '/')
	return origin[i+1:]
}

func getText(ctx context.Context, c *httpapi.Client, path string, kv ...string) ([]byte, error) {
	params := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		params.Set(kv[i], kv[i+1])
	}
	resp, err := c.Do(ctx, http.MethodGet, path, params, nil, nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(io.LimitReader(resp.Body, 1<<20))
}

func printReports(w io.Writer, reports []*ledger.Report, format string) error {
	bad := 0
	for _, r := range reports {
		if !r.OK() {
			bad++
		}
	}
	if format == "json" {
		if err := printJSON(w, map[string]any{"ok": bad == 0, "tenants": reports}); err != nil {
			return err
		}
	} else {
		for _, r := range reports {
			state := "INTACT"
			if !r.OK() {
				state = fmt.Sprintf("TAMPERED (%d problem(s))", len(r.Findings))
			}
			pruned := ""
			if r.Pruned > 0 {
				pruned = fmt.Sprintf(" (%s with deleted bodies, each allowed by a tombstone unless listed below)", thousands(r.Pruned))
			}
			if r.Sealed > 0 {
				pruned += fmt.Sprintf(" (%s encrypted bodies not opened: give --master-key-file to check them)", thousands(r.Sealed))
			}
			fmt.Fprintf(w, "tenant %s: %s events%s, tree size %s, %d checkpoint(s) checked: %s\n",
				clean(r.Tenant), thousands(r.Events), pruned, thousands(int64(r.Size)), r.Checkpoints, state)
			if r.Root != "" && r.OK() {
				fmt.Fprintf(w, "  root %s\n", r.Root)
			}
			for _, f := range r.Findings {
				fmt.Fprintf(w, "  %s\n", clean(f.String()))
			}
			for _, n := range r.Notes {
				fmt.Fprintf(w, "  note: %s\n", clean(n))
			}
		}
	}
	if bad > 0 {
		return fmt.Errorf("%w: %d of %d tenant ledger(s) failed verification", errCheckFailed, bad, len(reports))
	}
	return nil
}

func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// bar is a progress bar on stderr when it is a terminal.
type bar struct {
	w     io.Writer
	on    bool
	start time.Time
	last  time.Time
}

func newBar(w io.Writer) *bar {
	b := &bar{w: w, start: time.Now()}
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			b.on = true
		}
	}
	return b
}

func (b *bar) update(done, total int64) {
	if !b.on || time.Since(b.last) < 100*time.Millisecond {
		return
	}
	b.last = time.Now()
	pct := 100.0
	if total > 0 {
		pct = min(100, 100*float64(done)/float64(total))
	}
	const width = 30
	fill := int(pct / 100 * width)
	rate := float64(done) / max(time.Since(b.start).Seconds(), 1e-3)
	fmt.Fprintf(b.w, "\rverifying [%s%s] %5.1f%%  %s/%s events  %.0fk/s ", strings.Repeat("#", fill), strings.Repeat(".", width-fill), pct, thousands(done), thousands(total), rate/1000)
}

func (b *bar) done() {
	if b.on && !b.last.IsZero() {
		fmt.Fprint(b.w, "\r\033[K")
	}
}

// memory is the client's record of the last checkpoint it verified per
// server (or data directory) and tenant, under the user's config directory.
type memory struct {
	dir string
	off bool
}

func newMemory(e env, server string, off bool) *memory {
	base := configDir(e)
	if base == "" {
		off = true
	}
	sum := sha256.Sum256([]byte(strings.TrimRight(server, "/")))
	return &memory{dir: filepath.Join(base, "checkpoints", hex.EncodeToString(sum[:8])), off: off}
}

type remembered struct {
	Tenant     string    `json:"tenant"`
	VerifiedAt time.Time `json:"verified_at"`
	Checkpoint string    `json:"checkpoint"`
}

func (m *memory) path(tenant string) string { return filepath.Join(m.dir, tenant+".json") }

func (m *memory) load(tenant string) []byte {
	if m.off {
		return nil
	}
	b, err := os.ReadFile(m.path(tenant))
	if err != nil {
		return nil
	}
	var r remembered
	if json.Unmarshal(b, &r) != nil || r.Checkpoint == "" {
		return nil
	}
	return []byte(r.Checkpoint)
}

func (m *memory) loadAll() map[string][]byte {
	out := map[string][]byte{}
	if m.off {
		return out
	}
	ents, _ := os.ReadDir(m.dir)
	for _, en := range ents {
		if t, ok := strings.CutSuffix(en.Name(), ".json"); ok {
			if note := m.load(t); note != nil {
				out[t] = note
			}
		}
	}
	return out
}

func (m *memory) save(tenant string, note []byte) {
	if m.off {
		return
	}
	if err := os.MkdirAll(m.dir, 0o700); err != nil {
		return
	}
	b, _ := json.MarshalIndent(remembered{Tenant: tenant, VerifiedAt: time.Now().UTC(), Checkpoint: string(note)}, "", "  ")
	tmp := m.path(tenant) + ".tmp"
	if os.WriteFile(tmp, b, 0o600) == nil {
		os.Rename(tmp, m.path(tenant))
	}
}

// readStream reads a whole (small) ledger stream into records.
func readStream(ctx context.Context, c *httpapi.Client, params url.Values) ([]*ledger.Record, error) {
	resp, err := c.Do(ctx, http.MethodGet, "/v1/ledger", params, nil, nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	sr := ledger.NewStreamReader(resp.Body)
	var out []*ledger.Record
	for {
		rec := &ledger.Record{}
		err := sr.Next(rec)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%w: the ledger stream broke off: %v", httpapi.ErrUnreachable, err)
		}
		out = append(out, rec)
	}
}
