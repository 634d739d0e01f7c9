package claudecode

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"os"

	"github.com/clawtrail/clawtrail/sdk"
)

// maxTranscriptTail bounds how much of a transcript TurnUsage reads (from
// the end): a turn's messages are at the end when Stop fires.
const maxTranscriptTail = 32 << 20

// TurnUsage sums the token usage of one turn (the model messages after
// the turn's first user entry, promptID) from a Claude Code session
// transcript, and returns the model of its last message. Hook payloads
// carry no usage; the transcript does. Claude Code writes one transcript
// line per content block, each repeating its message's usage, so messages
// are counted once by id. ok is false when the transcript cannot be read
// or holds no model message for the turn.
//
// Only the command hook reads transcripts (a local file Claude Code
// names); the server never opens a path a request names.
func TurnUsage(path, promptID string) (model string, usage *sdk.Usage, ok bool) {
	if path == "" || promptID == "" {
		return "", nil, false
	}
	f, err := os.Open(path)
	if err != nil {
		return "", nil, false
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > maxTranscriptTail {
		if _, err := f.Seek(st.Size()-maxTranscriptTail, io.SeekStart); err != nil {
			return "", nil, false
		}
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	in := false
	seen := map[string]bool{}
	u := &sdk.Usage{}
	for sc.Scan() {
		line := sc.Bytes()
		if !bytes.Contains(line, []byte(`"type"`)) {
			continue
		}
		var entry struct {
			Type     string `json:"type"`
			PromptID string `json:"promptId"`
			Message  struct {
				ID    string `json:"id"`
				Model string `json:"model"`
				Usage *struct {
					Input       int64 `json:"input_tokens"`
					Output      int64 `json:"output_tokens"`
					CacheRead   int64 `json:"cache_read_input_tokens"`
					CacheCreate int64 `json:"cache_creation_input_tokens"`
				} `json:"usage"`
			} `json:"message"`
		}
		if json.Unmarshal(line, &entry) != nil {
			continue // a torn first line after the seek, or a shape we do not know
		}
		switch {
		case entry.Type == "user" && entry.PromptID != "":
			in = entry.PromptID == promptID
		case entry.Type == "assistant" && in && entry.Message.Usage != nil:
			if entry.Message.ID != "" && seen[entry.Message.ID] {
				continue
			}
			seen[entry.Message.ID] = true
			mu := entry.Message.Usage
			u.InputTokens += mu.Input
			u.OutputTokens += mu.Output
			u.CacheReadTokens += mu.CacheRead
			u.CacheCreationTokens += mu.CacheCreate
			model = entry.Message.Model
			ok = true
		}
	}
	if !ok {
		return "", nil, false
	}
	return model, u, true
}
