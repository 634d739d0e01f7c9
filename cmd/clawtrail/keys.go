package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/clawtrail/clawtrail/httpapi"
	"github.com/clawtrail/clawtrail/ledger"
	"github.com/clawtrail/clawtrail/sqlite"
	"github.com/spf13/cobra"
)

func newKeysCmd(e env) *cobra.Command {
	cmd := &cobra.Command{Use: "keys", Short: "The server's checkpoint signing keys"}
	cmd.AddCommand(newKeysPublicCmd(e), newRotateSigningCmd(e))
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
