// Command agent is a small simulated AI agent that records everything it
// does in clawtrail with the Go SDK: a prompt, tool calls (one of them
// fails), an external API call, a file write, an approval, and the model's
// output. Run it against a local server, then find its session:
//
//	clawtrail serve &                                   # prints the admin key; also in clawtrail-data/admin.token
//	export CLAWTRAIL_URL=http://127.0.0.1:7300 CLAWTRAIL_TOKEN=$(cat clawtrail-data/admin.token)
//	go run ./examples/agent
//	clawtrail logs session <the session id it prints>
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"time"

	"github.com/clawtrail/clawtrail/sdk"
)

func main() {
	var cfg sdk.Config
	session := flag.String("session", fmt.Sprintf("demo-%d", time.Now().Unix()), "session id to record under")
	flag.StringVar(&cfg.URL, "server", "", "clawtrail server URL (default $CLAWTRAIL_URL, then http://127.0.0.1:7300)")
	flag.StringVar(&cfg.Token, "token", "", "API key with the ingest role (default $CLAWTRAIL_TOKEN)")
	flag.Parse()
	if err := run(context.Background(), cfg, *session, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "agent:", err)
		os.Exit(1)
	}
}

// run is the agent: one conversation turn, every step recorded.
func run(ctx context.Context, cfg sdk.Config, session string, out io.Writer) error {
	client, err := sdk.New(cfg)
	if err != nil {
		return err
	}
	sdk.SetDefault(client)

	ctx = sdk.WithSession(ctx, session)
	ctx = sdk.WithUser(ctx, "user_123")
	ctx = sdk.WithAgent(ctx, "support-bot")
	ctx = sdk.WithChannel(ctx, "slack")

	// A stand-in for a third-party API the agent calls.
	shipping := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"order":"1234","status":"delayed","eta":"2026-12-03"}`)
	}))
	defer shipping.Close()
	api := &http.Client{Transport: &sdk.Transport{}, Timeout: 10 * time.Second}
	workspace, err := os.MkdirTemp("", "agent-workspace-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(workspace)

	sdk.Prompt(ctx, "Order 1234 is late. Check the carrier and draft a reply to the customer.")

	order, err := sdk.ToolCall(ctx, "track_shipment", map[string]any{"order": "1234"},
		func(ctx context.Context) (map[string]any, error) {
			req, _ := http.NewRequestWithContext(ctx, "GET", shipping.URL+"/v1/shipments/1234", nil)
			req.Header.Set("Authorization", "Bearer carrier-api-key") // never recorded
			resp, err := api.Do(req)
			if err != nil {
				return nil, err
			}
			defer resp.Body.Close()
			var v map[string]any
			return v, json.NewDecoder(resp.Body).Decode(&v)
		})
	if err != nil {
		return err
	}

	// A tool that fails: recorded with status error, and the agent goes on.
	_, _ = sdk.ToolCall(ctx, "lookup_customer", map[string]any{"order": "1234"},
		func(ctx context.Context) (string, error) { return "", errors.New("crm: timeout after 5s") })

	reply := fmt.Sprintf("Sorry for the delay: order %v is now expected on %v.", order["order"], order["eta"])
	draft := filepath.Join(workspace, "reply-1234.txt")
	if err := sdk.WriteFile(ctx, draft, []byte(reply), 0o600); err != nil {
		return err
	}

	sdk.Approval(ctx, "send_email", "approved", "ops@example.com", "reply reviewed")
	_, _ = sdk.ToolCall(ctx, "send_email", map[string]any{"to": "customer@example.com", "subject": "Your order 1234"},
		func(ctx context.Context) (string, error) { return "queued", nil })

	sdk.Output(ctx, "I emailed the customer: "+reply, "claude-sonnet-4", sdk.Usage{InputTokens: 1840, OutputTokens: 96})

	fctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	err = client.Close(fctx)
	st := client.Stats()
	if err != nil {
		return fmt.Errorf("%d events recorded, %d still in the spool %s (sent when the server is back): %w",
			st.Sent, st.Pending, client.SpoolDir(), err)
	}
	fmt.Fprintf(out, "session %s: %d events recorded. See them with:\n  clawtrail logs session %s\n", session, st.Sent, session)
	return nil
}
