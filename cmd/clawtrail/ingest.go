package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/clawtrail/clawtrail"
	"github.com/clawtrail/clawtrail/httpapi"
	"github.com/spf13/cobra"
)

// ingestChunk bounds one request of `clawtrail ingest`.
const (
	ingestChunkLines = 1000
	ingestChunkBytes = 4 << 20
)

func newIngestCmd(e env) *cobra.Command {
	var cf clientFlags
	cmd := &cobra.Command{
		Use:   "ingest [FILE|-]",
		Short: "Send NDJSON events (one JSON object per line) from a file or stdin",
		Long: `Send NDJSON events from FILE (or stdin when FILE is - or absent).
Events go in requests of up to 1,000 lines; each request is atomic. On the first
rejected request, ingest stops and names the bad lines; the requests before it
are stored (re-running is safe for events that carry an id).`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.client(e)
			if err != nil {
				return err
			}
			in := e.stdin
			if len(args) == 1 && args[0] != "-" {
				f, err := os.Open(args[0])
				if err != nil {
					return usagef("%v", err)
				}
				defer f.Close()
				in = f
			}
			return ingestStream(cmd, c, in, e)
		},
	}
	cf.register(cmd)
	return cmd
}

func ingestStream(cmd *cobra.Command, c *httpapi.Client, in io.Reader, e env) error {
	r := bufio.NewReaderSize(in, 1<<20)
	var chunk bytes.Buffer
	var accepted, dups, lines, chunkStart int
	flush := func() error {
		if chunk.Len() == 0 {
			return nil
		}
		res, err := c.Ingest(cmd.Context(), chunk.Bytes())
		if err != nil {
			return shiftLines(err, chunkStart)
		}
		accepted += res.Accepted
		dups += res.Duplicates
		chunk.Reset()
		return nil
	}
	n := 0
	for {
		line, err := r.ReadBytes('\n')
		if len(line) > 0 {
			if n == 0 {
				chunkStart = lines
			}
			lines++
			chunk.Write(line)
			if line[len(line)-1] != '\n' {
				chunk.WriteByte('\n')
			}
			n++
			if n >= ingestChunkLines || chunk.Len() >= ingestChunkBytes {
				if err := flush(); err != nil {
					return ingestFailed(e, err, accepted, dups)
				}
				n = 0
			}
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
	}
	if err := flush(); err != nil {
		return ingestFailed(e, err, accepted, dups)
	}
	fmt.Fprintf(e.stdout, "accepted %d, duplicates %d\n", accepted, dups)
	return nil
}

func ingestFailed(e env, err error, accepted, dups int) error {
	if accepted+dups > 0 {
		fmt.Fprintf(e.stderr, "clawtrail: stored before the failure: accepted %d, duplicates %d\n", accepted, dups)
	}
	return err
}

// shiftLines renumbers the lines of an error from one chunk to the file's.
func shiftLines(err error, offset int) error {
	var ae *httpapi.APIError
	if errors.As(err, &ae) && offset > 0 {
		for i := range ae.Details {
			if ae.Details[i].Line > 0 {
				ae.Details[i].Line += offset
			}
		}
	}
	var ce *clawtrail.ConflictError
	if errors.As(err, &ce) {
		ce.Line += offset
	}
	return err
}
