package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"

	"github.com/clawtrail/clawtrail/sqlite"
	"github.com/spf13/cobra"
)

func newBackupCmd(e env) *cobra.Command {
	var cf clientFlags
	var output string
	cmd := &cobra.Command{
		Use:   "backup --output FILE",
		Short: "Take a consistent copy of a running server's store (root key)",
		Long: `Take a consistent copy of a running server's store, while ingest goes on: every
event committed before the copy began, with its checkpoints, the keys' hashes, the
retention and hold records, and the signing key (so keep the file as secret as the
data directory). The search index is left out; it is rebuilt after a restore. The
master key (--master-key-file) is never in a backup: keep it apart.

Restore it with: clawtrail restore FILE --data DIR`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output == "" {
				return usagef("--output FILE is required")
			}
			c, err := cf.client(e)
			if err != nil {
				return err
			}
			resp, err := c.Do(cmd.Context(), http.MethodGet, "/v1/admin/backup", nil, nil, nil)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			tmp := output + ".partial"
			f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
			if err != nil {
				return usagef("%v", err)
			}
			n, err := io.Copy(f, resp.Body)
			if err == nil {
				err = f.Sync()
			}
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				os.Remove(tmp)
				return fmt.Errorf("backup cut short after %d bytes: %w", n, err)
			}
			if err := os.Rename(tmp, output); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "backup written to %s (%d bytes); restore with: clawtrail restore %s --data DIR\n", output, n, output)
			return nil
		},
	}
	cf.register(cmd)
	cmd.Flags().StringVar(&output, "output", "", "file to write (gzip'd tar)")
	return cmd
}

func newRestoreCmd(e env) *cobra.Command {
	var data string
	cmd := &cobra.Command{
		Use:   "restore FILE --data DIR",
		Short: "Restore a backup into a new data directory, then verify it",
		Long: `Restore a backup (clawtrail backup) into DIR, which must not hold a ledger, check
the archive against its manifest, and verify the restored ledger offline (every leaf,
the Merkle trees, every signed checkpoint). Exit 0 when intact, 1 when verification
finds a problem. Then start a server on it: clawtrail serve --data DIR (with the same
--master-key-file if the backup was taken with encryption on); the search index is
rebuilt as it starts.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if data == "" {
				return usagef("--data DIR is required (a new directory)")
			}
			f, err := os.Open(args[0])
			if err != nil {
				return usagef("%v", err)
			}
			defer f.Close()
			m, err := sqlite.Restore(f, data)
			if err != nil {
				return usagef("%v", err)
			}
			fmt.Fprintf(e.stdout, "restored the backup of %s taken %s into %s\n", m.LogName, m.CreatedAt.Format("2006-01-02 15:04:05Z"), data)
			if m.Encrypted {
				fmt.Fprintln(e.stdout, "event bodies are encrypted: start the server with the same --master-key-file")
			}
			return verifyRestored(cmd.Context(), e, data)
		},
	}
	cmd.Flags().StringVar(&data, "data", "", "the new data directory")
	return cmd
}

// verifyRestored runs `clawtrail verify --data DIR` on the restored
// directory: the same check, output and exit status.
func verifyRestored(ctx context.Context, e env, dir string) error {
	fmt.Fprintf(e.stdout, "verifying %s:\n", dir)
	switch code := runEnv(ctx, []string{"verify", "--data", dir, "--no-memory"}, e); code {
	case exitOK:
		return nil
	case exitCheckFailed:
		return exitStatus{code, fmt.Errorf("%w: the restored ledger in %s failed verification", errCheckFailed, dir)}
	default:
		return exitStatus{code, fmt.Errorf("verifying the restored ledger in %s failed (exit %d)", dir, code)}
	}
}
