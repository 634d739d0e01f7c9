package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/clawtrail/clawtrail"
	"github.com/clawtrail/clawtrail/httpapi"
	"github.com/spf13/cobra"
)

// Exit codes (SPEC §4).
const (
	exitOK          = 0
	exitCheckFailed = 1
	exitUsage       = 2
	exitUnreachable = 3
	exitUnauthz     = 4
)

// usageError marks a problem with how the command was called.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// exitCode maps an error to an exit code; the one place this happens.
func exitCode(err error) int {
	var ue usageError
	var es exitStatus
	switch {
	case errors.As(err, &es):
		return es.code
	case err == nil:
		return exitOK
	case errors.Is(err, errCheckFailed):
		// First: a failed check must not hide behind another error joined
		// to it (witness --once over several tenants).
		return exitCheckFailed
	case errors.As(err, &ue), errors.Is(err, clawtrail.ErrInvalid), errors.Is(err, clawtrail.ErrNotFound),
		errors.Is(err, clawtrail.ErrConflict), errors.Is(err, clawtrail.ErrTooLarge):
		return exitUsage
	case errors.Is(err, httpapi.ErrUnreachable), errors.Is(err, clawtrail.ErrRateLimited):
		return exitUnreachable
	case errors.Is(err, clawtrail.ErrUnauthorized), errors.Is(err, clawtrail.ErrForbidden):
		return exitUnauthz
	}
	return exitUsage
}

var errCheckFailed = errors.New("check failed")

// env is what commands read and write; tests substitute their own.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return runEnv(ctx, args, env{stdin: stdin, stdout: stdout, stderr: stderr, getenv: osGetenv})
}

func runEnv(ctx context.Context, args []string, e env) int {
	root := newRoot(e)
	root.SetArgs(args)
	root.SetIn(e.stdin)
	root.SetOut(e.stdout)
	root.SetErr(e.stderr)
	err := root.ExecuteContext(ctx)
	if err != nil {
		msg := err.Error()
		if !strings.HasSuffix(msg, ".") && !strings.Contains(msg, "\n") {
			msg += "."
		}
		fmt.Fprintln(e.stderr, "clawtrail: "+msg)
	}
	return exitCode(err)
}

func newRoot(e env) *cobra.Command {
	root := &cobra.Command{
		Use:           "clawtrail",
		Short:         "A tamper-evident audit trail for AI agents",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return usageError{err.Error()} })
	root.AddCommand(newServeCmd(e), newIngestCmd(e), newLogsCmd(e), newReindexCmd(e), newVerifyCmd(e), newKeysCmd(e), newWitnessCmd(e),
		newRetentionCmd(e), newHoldCmd(e), newSubjectCmd(e), newEraseCmd(e), newHashCmd(e), newHookCmd(e), newBackupCmd(e), newRestoreCmd(e))
	return root
}
