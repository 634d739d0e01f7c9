package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"text/tabwriter"
	"time"

	"github.com/clawtrail/clawtrail/httpapi"
	"github.com/clawtrail/clawtrail/ledger"
	"github.com/clawtrail/clawtrail/sqlite"
	"github.com/spf13/cobra"
)

func newKeysCmd(e env) *cobra.Command {
	cmd := &cobra.Command{Use: "keys", Short: "API keys (create, list, revoke) and the checkpoint signing keys (public, rotate-signing)"}
	cmd.AddCommand(newKeysCreateCmd(e), newKeysListCmd(e), newKeysRevokeCmd(e), newKeysPublicCmd(e), newRotateSigningCmd(e), newRotateMasterCmd(e))
	return cmd
}

func newKeysCreateCmd(e env) *cobra.Command {
	var cf clientFlags
	var role, name, expires string
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create an API key; it is printed alone on stdout, once (admin of the tenant, or the root key)",
		Long: `create makes an API key for a tenant with one role:
  ingest   write events only
  reader   search, export, tail, sessions
  auditor  reader + verify, proofs, bundles, and the tenant's access/auth/config_change records
  admin    auditor + keys, retention, holds, erasure and subject exports for its tenant
The key is printed alone on stdout and cannot be shown again; only its hash is stored.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if role == "" {
				return usagef("--role is required: ingest, reader, auditor or admin")
			}
			c, err := cf.client(e)
			if err != nil {
				return err
			}
			body, _ := json.Marshal(httpapi.CreateKeyRequest{Tenant: cf.tenant, Role: role, Name: name, Expires: expires})
			// The tenant goes in the body; ?tenant= would make the root
			// key act as that tenant's admin, which is the same thing.
			c.Tenant = ""
			resp, err := c.Do(cmd.Context(), http.MethodPost, "/v1/keys", nil, bytes.NewReader(body), http.Header{"Content-Type": {"application/json"}})
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			var out httpapi.CreateKeyResponse
			if err := decodeJSON(resp, &out); err != nil {
				return err
			}
			fmt.Fprintln(e.stdout, out.Token)
			fmt.Fprintf(e.stderr, "created key %s (%s, tenant %s); it is shown only this once\n", out.Key.ID, out.Key.Role, out.Key.Tenant)
			return nil
		},
	}
	cf.register(cmd)
	cmd.Flags().Lookup("tenant").Usage = "tenant of the new key (default the caller's; another tenant needs the root key)"
	cmd.Flags().StringVar(&role, "role", "", "ingest, reader, auditor or admin")
	cmd.Flags().StringVar(&name, "name", "", "a name to know the key by (recorded as the user of its reads)")
	cmd.Flags().StringVar(&expires, "expires", "", "expire after this long (90d, 12h) or at this RFC 3339 time; default never")
	return cmd
}

func newKeysListCmd(e env) *cobra.Command {
	var cf clientFlags
	var all bool
	var format string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List API keys: id, name, tenant, role, created, last used, expiry (never the secret)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := cf.client(e)
			if err != nil {
				return err
			}
			params := url.Values{}
			if all {
				params.Set("all", "true")
			}
			var out httpapi.KeysResponse
			if err := c.GetJSON(cmd.Context(), "/v1/keys", params, &out); err != nil {
				return err
			}
			if format == "json" {
				return printJSON(e.stdout, out.Keys)
			}
			tw := tabwriter.NewWriter(e.stdout, 2, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNAME\tTENANT\tROLE\tCREATED\tLAST USED\tEXPIRES\tSTATE")
			for _, k := range out.Keys {
				state := "active"
				switch {
				case k.RevokedAt != nil:
					state = "revoked"
				case k.ExpiresAt != nil && !k.ExpiresAt.After(time.Now()):
					state = "expired"
				}
				role := k.Role
				if k.Root {
					role += " (root)"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, clean(k.Name), k.Tenant, role, k.CreatedAt.Format("2006-01-02 15:04"), day(k.LastUsed), day(k.ExpiresAt), state)
			}
			return tw.Flush()
		},
	}
	cf.register(cmd)
	cmd.Flags().BoolVar(&all, "all", false, "every tenant's keys (root key only)")
	cmd.Flags().StringVar(&format, "format", "table", "table or json")
	return cmd
}

func day(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.Format("2006-01-02 15:04")
}

func newKeysRevokeCmd(e env) *cobra.Command {
	var cf clientFlags
	cmd := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke an API key at once (admin of its tenant, or the root key)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.client(e)
			if err != nil {
				return err
			}
			resp, err := c.Do(cmd.Context(), http.MethodDelete, "/v1/keys/"+url.PathEscape(args[0]), nil, nil, nil)
			if err != nil {
				return err
			}
			resp.Body.Close()
			fmt.Fprintf(e.stderr, "revoked key %s\n", args[0])
			return nil
		},
	}
	cf.register(cmd)
	return cmd
}

func newKeysPublicCmd(e env) *cobra.Command {
	var cf clientFlags
	var all bool
	cmd := &cobra.Command{
		Use:   "public",
		Short: "Print the log's public key (pin it: clawtrail verify --public-key KEY)",
		Long: `public prints the current checkpoint signing key in note verifier form
(name+hash+base64), from the server, or from a data directory with --data.
With --all it prints every key of the rotation history with its validity.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var keys []ledger.KeyInfo
			var err error
			if cf.data != "" {
				keys, err = sqlite.SigningKeysIn(cmd.Context(), cf.data)
			} else {
				var c *httpapi.Client
				c, err = cf.client(e)
				if err == nil {
					var r httpapi.SigningKeysResponse
					err = c.GetJSON(cmd.Context(), "/v1/signing-keys", nil, &r)
					keys = r.Keys
				}
			}
			if err != nil {
				return err
			}
			if len(keys) == 0 {
				return fmt.Errorf("no signing key found")
			}
			if !all {
				cur := keys[len(keys)-1]
				for _, k := range keys {
					if k.ValidTo.IsZero() {
						cur = k // the key in use: its validity has no end
					}
				}
				fmt.Fprintln(e.stdout, cur.VKey)
				return nil
			}
			for _, k := range keys {
				to := "current"
				if !k.ValidTo.IsZero() {
					to = k.ValidTo.Format("2006-01-02T15:04:05Z")
				}
				fmt.Fprintf(e.stdout, "%s\tfrom %s\tto %s\n", k.VKey, k.ValidFrom.Format("2006-01-02T15:04:05Z"), to)
			}
			return nil
		},
	}
	cf.register(cmd)
	cmd.Flags().Lookup("data").Usage = "read the key from this data directory instead of the server"
	cmd.Flags().BoolVar(&all, "all", false, "print the whole key history with validity ranges")
	return cmd
}

func newRotateSigningCmd(e env) *cobra.Command {
	var cf clientFlags
	cmd := &cobra.Command{
		Use:   "rotate-signing",
		Short: "Start a new checkpoint signing key (root key only); old checkpoints stay verifiable",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := cf.client(e)
			if err != nil {
				return err
			}
			var r struct {
				VKey string `json:"vkey"`
			}
			resp, err := c.Do(cmd.Context(), http.MethodPost, "/v1/admin/rotate-signing", nil, nil, nil)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			if err := decodeJSON(resp, &r); err != nil {
				return err
			}
			fmt.Fprintln(e.stdout, r.VKey)
			fmt.Fprintln(e.stderr, "new signing key in use; verifiers that pin keys need it too (clawtrail keys public --all)")
			return nil
		},
	}
	cf.register(cmd)
	return cmd
}

func decodeJSON(resp *http.Response, v any) error {
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(v); err != nil {
		return fmt.Errorf("%w: bad response from the server: %v", httpapi.ErrUnreachable, err)
	}
	return nil
}
