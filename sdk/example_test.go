package sdk_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/clawtrail/clawtrail/sdk"
)

// TestMain starts a real clawtrail server for the examples and points
// CLAWTRAIL_URL and CLAWTRAIL_TOKEN at it, as a user's environment would.
func TestMain(m *testing.M) {
	if os.Getenv("SDK_CRASH_HELPER") != "" {
		os.Exit(m.Run())
	}
	ex := &exampleTB{}
	ts := sdk.NewTestServer(ex)
	os.Setenv("CLAWTRAIL_URL", ts.URL)
	os.Setenv("CLAWTRAIL_TOKEN", ts.Ingest)
	dir, _ := os.MkdirTemp("", "clawtrail-sdk-examples-")
	os.Setenv("XDG_CACHE_HOME", dir) // the default spool directory goes here
	code := m.Run()
	ex.cleanup()
	os.RemoveAll(dir)
	os.Exit(code)
}

type exampleTB struct{ fns []func() }

func (*exampleTB) Helper()             {}
func (*exampleTB) Fatal(args ...any)   { panic(fmt.Sprint(args...)) }
func (t *exampleTB) Cleanup(fn func()) { t.fns = append(t.fns, fn) }
func (t *exampleTB) cleanup() {
	for i := len(t.fns) - 1; i >= 0; i-- {
		t.fns[i]()
	}
}

func Example() {
	// URL and Token default to $CLAWTRAIL_URL and $CLAWTRAIL_TOKEN.
	client, err := sdk.New(sdk.Config{})
	if err != nil {
		panic(err)
	}
	defer client.Close(context.Background())
	sdk.SetDefault(client)

	ctx := sdk.WithSession(context.Background(), "sess-001")
	ctx = sdk.WithUser(ctx, "user_123")
	ctx = sdk.WithAgent(ctx, "support-bot")

	sdk.Prompt(ctx, "What is the status of order 1234?")
	status, _ := sdk.ToolCall(ctx, "lookup_order", map[string]any{"order": 1234},
		func(ctx context.Context) (string, error) { return "shipped", nil })
	sdk.Output(ctx, "Order 1234 has shipped.", "claude-sonnet-4", sdk.Usage{InputTokens: 900, OutputTokens: 12})

	// Log returned at once; Flush waits until the server has everything.
	flushCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := client.Flush(flushCtx); err != nil {
		panic(err)
	}
	st := client.Stats()
	fmt.Println(status, st.Sent, st.Pending)
	// Output: shipped 3 0
}

func ExampleToolCall() {
	client, _ := sdk.New(sdk.Config{})
	defer client.Close(context.Background())
	ctx := sdk.WithClient(sdk.WithSession(context.Background(), "sess-002"), client)

	// The wrapper records tool, arguments, result, duration, status and
	// error, and returns exactly what the function returned.
	_, err := sdk.ToolCall(ctx, "send_email", map[string]any{"to": "customer@example.com"},
		func(ctx context.Context) (string, error) { return "", errors.New("smtp: 550 mailbox unavailable") })
	fmt.Println(err)
	client.Flush(context.Background())
	fmt.Println(client.Stats().Sent)
	// Output:
	// smtp: 550 mailbox unavailable
	// 1
}

func ExampleTransport() {
	client, _ := sdk.New(sdk.Config{})
	defer client.Close(context.Background())
	weather := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"temp_c": 21}`)
	}))
	defer weather.Close()

	// Every request through this client is an api_call event: host, method,
	// path, status code, duration. Never headers or bodies unless asked.
	httpClient := &http.Client{Transport: &sdk.Transport{Client: client}}
	ctx := sdk.WithSession(context.Background(), "sess-003")
	req, _ := http.NewRequestWithContext(ctx, "GET", weather.URL+"/v1/current?city=Paris", nil)
	req.Header.Set("Authorization", "Bearer never-recorded")
	resp, err := httpClient.Do(req)
	if err != nil {
		panic(err)
	}
	resp.Body.Close()
	client.Flush(context.Background())
	fmt.Println(resp.StatusCode, client.Stats().Sent)
	// Output: 200 1
}

func ExampleConfig_durable() {
	// Durable: Log returns after the event is fsync'd to the spool, so a
	// crash of the agent loses nothing Log returned for.
	client, _ := sdk.New(sdk.Config{Durable: true})
	defer client.Close(context.Background())
	err := client.Log(context.Background(), sdk.Event{Type: "approval", Tool: "wire_transfer",
		Decision: "approved", Approver: "cfo@example.com", Reason: "invoice 7781"})
	fmt.Println(err, client.Stats().Spooled)
	// Output: <nil> 1
}
