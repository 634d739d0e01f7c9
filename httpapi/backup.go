package httpapi

import (
	"fmt"
	"net/http"

	"github.com/clawtrail/clawtrail"
)

// handleBackup is GET /v1/admin/backup (root key): a consistent copy of
// the store, taken while ingest goes on, as a gzip'd tar
// (sqlite.Store.Backup). It holds the signing key, so only the root key
// may take one, and taking one is recorded.
func (s *Server) handleBackup(w http.ResponseWriter, r *http.Request) {
	c := callerOf(r.Context())
	if !c.key.Root {
		s.writeError(w, r, fmt.Errorf("%w: a backup holds every tenant and the signing key, and needs the root key", clawtrail.ErrForbidden))
		return
	}
	if err := s.audit.configChange(r.Context(), SystemTenant, c.key, "backup", map[string]string{}); err != nil {
		s.writeError(w, r, err)
		return
	}
	bw := &lazyHeaders{w: w}
	if _, err := s.store.Backup(r.Context(), bw); err != nil {
		s.log.Error("backup failed", "err", err)
		if !bw.started {
			s.writeError(w, r, err)
			return
		}
		// The archive is partly sent: cut the stream, which restore
		// refuses (a gzip or tar error, or a missing entry).
		panic(http.ErrAbortHandler)
	}
}

// lazyHeaders sets the archive's headers at its first byte, so that an
// error before it can still be answered as an error.
type lazyHeaders struct {
	w       http.ResponseWriter
	started bool
}

func (l *lazyHeaders) Write(p []byte) (int, error) {
	if !l.started {
		l.started = true
		l.w.Header().Set("Content-Type", "application/gzip")
		l.w.Header().Set("Content-Disposition", `attachment; filename="clawtrail-backup.tar.gz"`)
	}
	return l.w.Write(p)
}
