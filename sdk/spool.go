package sdk

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// A frame is a run of NDJSON lines of one tenant: the unit the writer puts
// in the spool and the sender sends (several frames of one tenant make one
// request). Positions are logical byte offsets into the spool's history,
// so a cursor is one number.
type frame struct {
	tenant string
	count  int
	lines  []byte // each line ends in '\n'
	end    int64  // position just after this frame
	lost   int    // a skipped damaged region: about how many events it held
}

// queue is where written events wait for the server: a spool directory, or
// memory when the spool is off.
type queue interface {
	// append adds frames after the end and returns the new end position
	// and how many of the frames (a prefix) are in the queue, also on error.
	append(frames []frame) (int64, int, error)
	// sync makes what append wrote durable.
	sync() error
	// read returns the frames from position from on, at least one if there
	// is any, of one tenant, up to maxBytes of lines and maxEvents events.
	read(from int64, maxBytes, maxEvents int) ([]frame, error)
	// ack records that everything before pos was delivered.
	ack(pos int64) error
	// bounds returns the acked position and the end.
	bounds() (acked, end int64)
	close() error
}

// ---- memory ----

type memQueue struct {
	mu     sync.Mutex
	frames []frame
	acked  int64
	end    int64
}

func (q *memQueue) append(frames []frame) (int64, int, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, f := range frames {
		q.end += int64(len(f.lines))
		f.end = q.end
		q.frames = append(q.frames, f)
	}
	return q.end, len(frames), nil
}

func (q *memQueue) sync() error { return nil }

func (q *memQueue) read(from int64, maxBytes, maxEvents int) ([]frame, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []frame
	n, size := 0, 0
	for _, f := range q.frames {
		if f.end <= from {
			continue
		}
		if len(out) > 0 && (f.tenant != out[0].tenant || n+f.count > maxEvents || size+len(f.lines) > maxBytes) {
			break
		}
		out = append(out, f)
		n += f.count
		size += len(f.lines)
	}
	return out, nil
}

func (q *memQueue) ack(pos int64) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	i := 0
	for i < len(q.frames) && q.frames[i].end <= pos {
		i++
	}
	q.frames = append(q.frames[:0], q.frames[i:]...)
	q.acked = pos
	return nil
}

func (q *memQueue) bounds() (int64, int64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.acked, q.end
}

func (q *memQueue) close() error { return nil }

// ---- spool directory ----
//
// A lane directory holds segment files named by the logical position of
// their first byte (20 digits, so they sort), a cursor file with the
// acked position, and a lock file. A frame on disk is a 17-byte header —
// magic "CTS1", payload length, event count, CRC-32C of tenant and
// payload, tenant length — then the tenant, then the payload.

const (
	frameMagic   = 0x31535443 // "CTS1" little-endian
	headerSize   = 17
	cursorFile   = "cursor"
	segmentExt   = ".spool"
	rejectedFile = "rejected.ndjson"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

type segment struct {
	start int64
	path  string
}

type fileQueue struct {
	dir     string
	segMax  int64
	maxSize int64
	lock    *os.File
	report  func(error)

	mu               sync.Mutex // guards segs, end, acked, cur
	segs             []segment
	acked            int64
	end              int64
	cur              *os.File     // the last segment, open for appending
	dirty            bool         // a segment was created since the last sync
	syncedEnd        atomic.Int64 // the end at the last successful sync
	pubAcked, pubEnd atomic.Int64 // acked and end for bounds, which must not wait behind a write
	wbuf             []byte       // reused by append
	rbuf             []byte       // reused by read: its frames are dead by the next read
}

var errSpoolFull = errors.New("spool full")

// openFileQueue opens (creating) the lane in dir, which the caller has
// locked. A torn frame at the end of the last segment — a crash during a
// write — is cut off; nothing before it is touched.
func openFileQueue(dir string, segMax, maxSize int64, report func(error)) (*fileQueue, error) {
	q := &fileQueue{dir: dir, segMax: segMax, maxSize: maxSize, report: report}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	for _, e := range ents {
		name := e.Name()
		if !strings.HasSuffix(name, segmentExt) {
			continue
		}
		start, err := strconv.ParseInt(strings.TrimSuffix(name, segmentExt), 10, 64)
		if err != nil {
			continue
		}
		q.segs = append(q.segs, segment{start: start, path: filepath.Join(dir, name)})
	}
	sort.Slice(q.segs, func(i, j int) bool { return q.segs[i].start < q.segs[j].start })
	if b, err := os.ReadFile(filepath.Join(dir, cursorFile)); err == nil {
		q.acked, _ = strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	} else if !os.IsNotExist(err) {
		return nil, err
	}
	if len(q.segs) == 0 {
		q.end = q.acked
		q.publish()
		return q, nil
	}
	if first := q.segs[0].start; q.acked < first {
		q.acked = first // the cursor file was lost: start at what is there
	}
	last := q.segs[len(q.segs)-1]
	f, err := os.OpenFile(last.path, os.O_RDWR|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	valid, torn, err := validPrefix(f)
	if err != nil {
		f.Close()
		return nil, err
	}
	if fi, err := f.Stat(); err == nil && fi.Size() > valid {
		if torn {
			report(fmt.Errorf("spool %s: cut %d bytes of a frame torn by a crash", last.path, fi.Size()-valid))
			if err := f.Truncate(valid); err != nil {
				f.Close()
				return nil, err
			}
		} else {
			report(fmt.Errorf("spool %s: damaged at byte %d; whole frames follow and are kept", last.path, valid))
			valid = fi.Size()
		}
	}
	q.cur = f
	q.end = last.start + valid
	if q.acked > q.end {
		q.acked = q.end
	}
	q.dropAcked()
	q.publish()
	return q, nil
}

// validPrefix returns the length of the run of whole, checksummed frames
// at the start of f, and whether what follows is only a torn tail (a crash
// mid-write: no whole frame after it), which may be cut. Damage followed by
// whole frames is not cut: read skips just the damaged part.
func validPrefix(f *os.File) (int64, bool, error) {
	data, err := io.ReadAll(io.NewSectionReader(f, 0, 1<<62))
	if err != nil {
		return 0, false, err
	}
	off := 0
	for off < len(data) {
		_, n, err := parseFrame(data[off:])
		if err != nil {
			return int64(off), nextFrame(data, off+1) == len(data), nil
		}
		off += n
	}
	return int64(off), true, nil
}

// parseFrame decodes the frame at the start of b and returns its length.
func parseFrame(b []byte) (frame, int, error) {
	if len(b) < headerSize {
		return frame{}, 0, io.ErrUnexpectedEOF
	}
	if binary.LittleEndian.Uint32(b) != frameMagic {
		return frame{}, 0, errors.New("bad frame magic")
	}
	plen := int(binary.LittleEndian.Uint32(b[4:]))
	count := int(binary.LittleEndian.Uint32(b[8:]))
	sum := binary.LittleEndian.Uint32(b[12:])
	tlen := int(b[16])
	n := headerSize + tlen + plen
	if len(b) < n {
		return frame{}, 0, io.ErrUnexpectedEOF
	}
	if crc32.Checksum(b[headerSize:n], castagnoli) != sum {
		return frame{}, 0, errors.New("frame checksum mismatch")
	}
	return frame{tenant: string(b[headerSize : headerSize+tlen]), count: count, lines: b[headerSize+tlen : n]}, n, nil
}

func appendFrame(b []byte, f frame) []byte {
	var h [headerSize]byte
	binary.LittleEndian.PutUint32(h[0:], frameMagic)
	binary.LittleEndian.PutUint32(h[4:], uint32(len(f.lines)))
	binary.LittleEndian.PutUint32(h[8:], uint32(f.count))
	sum := crc32.Update(0, castagnoli, []byte(f.tenant))
	sum = crc32.Update(sum, castagnoli, f.lines)
	binary.LittleEndian.PutUint32(h[12:], sum)
	h[16] = byte(len(f.tenant))
	b = append(b, h[:]...)
	b = append(b, f.tenant...)
	return append(b, f.lines...)
}

func frameSize(f frame) int64 { return int64(headerSize + len(f.tenant) + len(f.lines)) }

func segName(start int64) string { return fmt.Sprintf("%020d%s", start, segmentExt) }

// append writes frames in one write per segment and returns how many of
// them are on disk (a prefix), also on error. A frame that would take the
// spool over its size limit is not written (errSpoolFull).
func (q *fileQueue) append(frames []frame) (int64, int, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	defer q.publish()
	buf := q.wbuf[:0]
	defer func() {
		if cap(buf) <= 4<<20 {
			q.wbuf = buf[:0]
		}
	}()
	done, inBuf := 0, 0 // frames on disk; frames in buf
	flush := func() error {
		if len(buf) == 0 {
			return nil
		}
		if q.cur == nil {
			if err := q.newSegment(); err != nil {
				return err
			}
		}
		if _, err := q.cur.Write(buf); err != nil {
			// A short write (disk full) leaves a torn frame: cut it, so the
			// segment stays a run of whole frames (O_APPEND: the next write
			// goes to the new end). If even that fails, the next frame goes
			// to a new segment; the tail of this one is never read.
			if terr := q.cur.Truncate(q.end - q.segs[len(q.segs)-1].start); terr != nil {
				q.cur.Close()
				q.cur = nil
			}
			return err
		}
		q.end += int64(len(buf))
		buf = buf[:0]
		done += inBuf
		inBuf = 0
		return nil
	}
	for _, f := range frames {
		size := frameSize(f)
		if q.maxSize > 0 && q.end-q.acked+int64(len(buf))+size > q.maxSize {
			if err := flush(); err != nil {
				return q.end, done, err
			}
			return q.end, done, errSpoolFull
		}
		segStart := q.end // where the segment buf goes to starts
		if q.cur != nil {
			segStart = q.segs[len(q.segs)-1].start
		}
		if (q.cur != nil || len(buf) > 0) && q.end+int64(len(buf))-segStart >= q.segMax {
			if err := flush(); err != nil {
				return q.end, done, err
			}
			if err := q.newSegment(); err != nil {
				return q.end, done, err
			}
		}
		buf = appendFrame(buf, f)
		inBuf++
	}
	err := flush()
	return q.end, done, err
}

func (q *fileQueue) newSegment() error {
	path := filepath.Join(q.dir, segName(q.end))
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	if q.cur != nil {
		// The previous segment may hold unsynced frames: sync them before
		// the new one can be synced alone.
		q.cur.Sync()
		q.cur.Close()
	}
	q.cur = f
	q.segs = append(q.segs, segment{start: q.end, path: path})
	q.dirty = true
	return nil
}

func (q *fileQueue) sync() error {
	q.mu.Lock()
	f, dirty, end := q.cur, q.dirty, q.end
	q.dirty = false
	q.mu.Unlock()
	if f == nil {
		q.syncedEnd.Store(end)
		return nil
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if dirty {
		if err := syncDir(q.dir); err != nil {
			return err
		}
	}
	q.syncedEnd.Store(end)
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func (q *fileQueue) read(from int64, maxBytes, maxEvents int) ([]frame, error) {
	q.mu.Lock()
	end := q.end
	var seg segment
	found := false
	for i, s := range q.segs {
		if s.start <= from && (i == len(q.segs)-1 || q.segs[i+1].start > from) {
			seg, found = s, true
			if i < len(q.segs)-1 {
				end = q.segs[i+1].start
			}
			break
		}
	}
	q.mu.Unlock()
	if !found || from >= end {
		return nil, nil
	}
	f, err := os.Open(seg.path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	// Read at most what the limits can use: a frame is at most one batch
	// (the writer cuts them so), plus headers.
	want := min(end-from, int64(maxBytes)+int64(maxBytes)/4+64<<10)
	if int64(cap(q.rbuf)) < want {
		q.rbuf = make([]byte, want)
	}
	buf := q.rbuf[:want]
	n, err := f.ReadAt(buf, from-seg.start)
	if err != nil && err != io.EOF {
		return nil, err
	}
	buf = buf[:n]
	var out []frame
	pos, events, size := from, 0, 0
	for off := 0; off < len(buf); {
		fr, fn, err := parseFrame(buf[off:])
		if err != nil {
			if len(out) > 0 {
				break // what follows is past the read, or bad: the next read sees it
			}
			if err == io.ErrUnexpectedEOF && int64(len(buf)) < end-from {
				if fs := frameLen(buf); fs > 0 && int64(fs) <= end-from {
					// One frame bigger than the read: read it whole.
					if one, err := q.readOne(f, seg, from, fs); err == nil {
						return one, nil
					}
				}
			}
			return q.skip(f, seg, from, end, err), nil
		}
		if len(out) > 0 && (fr.tenant != out[0].tenant || events+fr.count > maxEvents || size+len(fr.lines) > maxBytes) {
			break
		}
		pos += int64(fn)
		fr.end = pos
		out = append(out, fr)
		events += fr.count
		size += len(fr.lines)
		off += fn
	}
	if len(out) == 0 {
		// Nothing whole where the segment should have more: it was cut short.
		return q.skip(f, seg, from, end, io.ErrUnexpectedEOF), nil
	}
	return out, nil
}

// frameLen is the length a frame header at the start of b claims, or 0
// when b does not start with a frame header.
func frameLen(b []byte) int {
	if len(b) < headerSize || binary.LittleEndian.Uint32(b) != frameMagic {
		return 0
	}
	return headerSize + int(b[16]) + int(binary.LittleEndian.Uint32(b[4:]))
}

func (q *fileQueue) readOne(f *os.File, seg segment, from int64, n int) ([]frame, error) {
	buf := make([]byte, n)
	if _, err := f.ReadAt(buf, from-seg.start); err != nil {
		return nil, err
	}
	fr, _, err := parseFrame(buf)
	if err != nil {
		return nil, err
	}
	fr.end = from + int64(n)
	return []frame{fr}, nil
}

// skip handles a spool segment that is damaged at from (a flipped byte, a
// lost tail): it finds the next whole frame in the segment, reports what
// is skipped, and returns an empty frame ending there, so the sender moves
// past it instead of stalling the lane for ever.
func (q *fileQueue) skip(f *os.File, seg segment, from, end int64, why error) []frame {
	rest, _ := io.ReadAll(io.NewSectionReader(f, from-seg.start, end-from))
	next := end
	if i := nextFrame(rest, 1); i < len(rest) {
		next = from + int64(i)
	}
	if why == io.ErrUnexpectedEOF {
		why = errors.New("the segment ends inside a frame or is shorter than recorded")
	}
	lost := max(1, bytes.Count(rest[:min(int64(len(rest)), next-from)], []byte{'\n'}))
	q.report(fmt.Errorf("spool %s: damaged at position %d (%v); skipping %d bytes, about %d events, which are lost", seg.path, from, why, next-from, lost))
	return []frame{{end: next, lost: lost}}
}

var magicBytes = binary.LittleEndian.AppendUint32(nil, frameMagic)

// nextFrame returns the offset of the first whole, checksummed frame in
// data at or after off, or len(data).
func nextFrame(data []byte, off int) int {
	for off < len(data) {
		j := bytes.Index(data[off:], magicBytes)
		if j < 0 {
			break
		}
		off += j
		if _, _, err := parseFrame(data[off:]); err == nil {
			return off
		}
		off++
	}
	return len(data)
}

// ack persists the cursor (write and rename, no fsync: a cursor lost to a
// power cut only makes the sender resend, and the server keeps each id
// once) and deletes the segments wholly before it.
func (q *fileQueue) ack(pos int64) error {
	tmp := filepath.Join(q.dir, cursorFile+".tmp")
	if err := os.WriteFile(tmp, []byte(strconv.FormatInt(pos, 10)+"\n"), 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(q.dir, cursorFile)); err != nil {
		return err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.acked = pos
	q.publish()
	q.dropAcked()
	return nil
}

// publish makes acked and end visible to bounds. Called with mu held.
func (q *fileQueue) publish() {
	q.pubAcked.Store(q.acked)
	q.pubEnd.Store(q.end)
}

// dropAcked removes segments that end at or before the acked position,
// but never the one being appended to.
func (q *fileQueue) dropAcked() {
	for len(q.segs) > 1 && q.segs[1].start <= q.acked {
		os.Remove(q.segs[0].path)
		q.segs = q.segs[1:]
	}
	if len(q.segs) == 1 && q.acked >= q.end && q.end > q.segs[0].start && q.end-q.segs[0].start >= q.segMax {
		// The only segment is full and delivered: start afresh.
		if q.cur != nil {
			q.cur.Close()
			q.cur = nil
		}
		os.Remove(q.segs[0].path)
		q.segs = nil
	}
}

func (q *fileQueue) bounds() (int64, int64) {
	return q.pubAcked.Load(), q.pubEnd.Load()
}

func (q *fileQueue) close() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	var err error
	if q.cur != nil {
		err = q.cur.Sync()
		q.cur.Close()
		q.cur = nil
	}
	return err
}

// rejected keeps the lines the server refused for good (a bad field, an
// id reused with another body), so that nothing leaves without a trace.
func appendRejected(dir string, lines []byte) error {
	if dir == "" {
		return nil
	}
	f, err := os.OpenFile(filepath.Join(dir, rejectedFile), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(lines)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
