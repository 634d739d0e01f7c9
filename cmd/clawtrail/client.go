package main

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/clawtrail/clawtrail/httpapi"
	"github.com/spf13/cobra"
)

// DefaultURL is where client commands look for the server.
const DefaultURL = "http://127.0.0.1:7300"

// clientFlags are the flags every client command takes.
type clientFlags struct {
	server, token, tenant, data string
}

func (f *clientFlags) register(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringVar(&f.server, "server", "", "server URL (default $CLAWTRAIL_URL or "+DefaultURL+")")
	fs.StringVar(&f.token, "token", "", "API key (default $CLAWTRAIL_TOKEN, else the admin.token of --data)")
	fs.StringVar(&f.tenant, "tenant", "", "tenant to act on (root key only)")
	fs.StringVar(&f.data, "data", "", "data directory whose admin.token to use when no key is given (default "+DefaultData+")")
}

// client builds the API client: flags, then CLAWTRAIL_URL/CLAWTRAIL_TOKEN,
// then, for a local server, the admin token its first start wrote.
func (f *clientFlags) client(e env) (*httpapi.Client, error) {
	c := &httpapi.Client{BaseURL: f.server, Token: f.token, Tenant: f.tenant}
	if c.BaseURL == "" {
		c.BaseURL = e.getenv("CLAWTRAIL_URL")
	}
	if c.BaseURL == "" {
		c.BaseURL = DefaultURL
	}
	if !strings.HasPrefix(c.BaseURL, "http://") && !strings.HasPrefix(c.BaseURL, "https://") {
		return nil, usagef("server URL %q must start with http:// or https://", c.BaseURL)
	}
	if c.Token == "" {
		c.Token = e.getenv("CLAWTRAIL_TOKEN")
	}
	if c.Token == "" {
		dir := f.data
		if dir == "" {
			dir = e.getenv("CLAWTRAIL_DATA")
		}
		if dir == "" {
			dir = DefaultData
		}
		if b, err := os.ReadFile(filepath.Join(dir, AdminTokenFile)); err == nil {
			c.Token = strings.TrimSpace(string(b))
		}
	}
	if c.Token == "" {
		return nil, usagef("no API key: set CLAWTRAIL_TOKEN or pass --token")
	}
	return c, nil
}
