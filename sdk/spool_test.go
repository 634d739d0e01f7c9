package sdk

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// reportLog collects what a queue reports.
type reportLog struct {
	mu   sync.Mutex
	msgs []string
}

func (r *reportLog) report(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, err.Error())
}

func (r *reportLog) all() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.msgs)
}

// mkFrame makes a frame of tenant holding one NDJSON line per line.
func mkFrame(tenant string, lines ...string) frame {
	var b []byte
	for _, l := range lines {
		b = append(b, l...)
		b = append(b, '\n')
	}
	return frame{tenant: tenant, count: len(lines), lines: b}
}

// readCopy reads and copies the frames (a fileQueue's frames alias a buffer
// the next read reuses).
func readCopy(t *testing.T, q queue, from int64, maxBytes, maxEvents int) []frame {
	t.Helper()
	frames, err := q.read(from, maxBytes, maxEvents)
	if err != nil {
		t.Fatalf("read(%d): %v", from, err)
	}
	out := make([]frame, len(frames))
	for i, f := range frames {
		f.lines = bytes.Clone(f.lines)
		out[i] = f
	}
	return out
}

func openQ(t *testing.T, dir string, segMax, maxSize int64, rep *reportLog) *fileQueue {
	t.Helper()
	q, err := openFileQueue(dir, segMax, maxSize, rep.report)
	if err != nil {
		t.Fatalf("openFileQueue: %v", err)
	}
	t.Cleanup(func() { q.close() })
	return q
}

// sameFrames compares tenant, count, lines and end.
func sameFrames(t *testing.T, what string, got, want []frame) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d frames %s, want %d %s", what, len(got), describe(got), len(want), describe(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.tenant != w.tenant || g.count != w.count || !bytes.Equal(g.lines, w.lines) || g.end != w.end {
			t.Fatalf("%s: frame %d is %s, want %s", what, i, describe(got[i:i+1]), describe(want[i:i+1]))
		}
	}
}

func describe(fs []frame) string {
	var parts []string
	for _, f := range fs {
		parts = append(parts, fmt.Sprintf("{%s %d %q end=%d}", f.tenant, f.count, f.lines, f.end))
	}
	return "[" + strings.Join(parts, " ") + "]"
}

func segFiles(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*"+segmentExt))
	if err != nil {
		t.Fatal(err)
	}
	for i := range m {
		m[i] = filepath.Base(m[i])
	}
	slices.Sort(m)
	return m
}

// checkQueueSemantics drives a queue through append, read (ordering,
// merging up to the limits, never across tenants) and ack. size is what a
// frame adds to the position.
func checkQueueSemantics(t *testing.T, q queue, size func(frame) int64) {
	if acked, end := q.bounds(); acked != 0 || end != 0 {
		t.Fatalf("empty queue bounds %d, %d", acked, end)
	}
	if got := readCopy(t, q, 0, 1<<20, 1000); len(got) != 0 {
		t.Fatalf("empty queue read %s", describe(got))
	}
	a1 := mkFrame("acme", `{"n":1}`, `{"n":2}`)
	a2 := mkFrame("acme", `{"n":3}`)
	b1 := mkFrame("beta", `{"n":4}`)
	a3 := mkFrame("acme", `{"n":5}`, `{"n":6}`, `{"n":7}`)
	a4 := mkFrame("acme", `{"n":8}`)
	pos := int64(0)
	for _, f := range []*frame{&a1, &a2, &b1, &a3, &a4} {
		pos += size(*f)
		f.end = pos
	}
	end, _, err := q.append([]frame{a1, a2})
	if err != nil || end != a2.end {
		t.Fatalf("append: end %d, %v; want %d", end, err, a2.end)
	}
	end, _, err = q.append([]frame{b1, a3, a4})
	if err != nil || end != a4.end {
		t.Fatalf("append: end %d, %v; want %d", end, err, a4.end)
	}
	if err := q.sync(); err != nil {
		t.Fatal(err)
	}
	if acked, e := q.bounds(); acked != 0 || e != a4.end {
		t.Fatalf("bounds %d, %d; want 0, %d", acked, e, a4.end)
	}

	const big = 1 << 20
	// In order; merged within a tenant; a tenant change ends the batch.
	sameFrames(t, "read(0)", readCopy(t, q, 0, big, 1000), []frame{a1, a2})
	sameFrames(t, "read(a1.end)", readCopy(t, q, a1.end, big, 1000), []frame{a2})
	sameFrames(t, "read(a2.end)", readCopy(t, q, a2.end, big, 1000), []frame{b1})
	sameFrames(t, "read(b1.end)", readCopy(t, q, b1.end, big, 1000), []frame{a3, a4})
	if got := readCopy(t, q, a4.end, big, 1000); len(got) != 0 {
		t.Fatalf("read at the end: %s", describe(got))
	}
	// maxEvents: a frame that would take the batch over it is left for the next.
	sameFrames(t, "read(0, maxEvents 2)", readCopy(t, q, 0, big, 2), []frame{a1})
	sameFrames(t, "read(0, maxEvents 3)", readCopy(t, q, 0, big, 3), []frame{a1, a2})
	sameFrames(t, "read(b1.end, maxEvents 3)", readCopy(t, q, b1.end, big, 3), []frame{a3})
	// maxBytes, counted in lines.
	sameFrames(t, "read(0, maxBytes a1)", readCopy(t, q, 0, len(a1.lines), 1000), []frame{a1})
	sameFrames(t, "read(0, maxBytes a1+a2)", readCopy(t, q, 0, len(a1.lines)+len(a2.lines), 1000), []frame{a1, a2})
	sameFrames(t, "read(0, maxBytes a1+a2-1)", readCopy(t, q, 0, len(a1.lines)+len(a2.lines)-1, 1000), []frame{a1})
	// At least one frame, whatever the limits.
	sameFrames(t, "read(0, 1 byte, 1 event)", readCopy(t, q, 0, 1, 1), []frame{a1})

	if err := q.ack(a2.end); err != nil {
		t.Fatal(err)
	}
	if acked, e := q.bounds(); acked != a2.end || e != a4.end {
		t.Fatalf("after ack: bounds %d, %d; want %d, %d", acked, e, a2.end, a4.end)
	}
	sameFrames(t, "read after ack", readCopy(t, q, a2.end, big, 1000), []frame{b1})
	sameFrames(t, "read after ack", readCopy(t, q, b1.end, big, 1000), []frame{a3, a4})
	// Appending after an ack goes on from the end.
	a5 := mkFrame("acme", `{"n":9}`)
	a5.end = a4.end + size(a5)
	if end, _, err := q.append([]frame{a5}); err != nil || end != a5.end {
		t.Fatalf("append after ack: %d, %v; want %d", end, err, a5.end)
	}
	sameFrames(t, "read(b1.end) after another append", readCopy(t, q, b1.end, big, 1000), []frame{a3, a4, a5})
	if err := q.ack(a5.end); err != nil {
		t.Fatal(err)
	}
	if acked, e := q.bounds(); acked != a5.end || e != a5.end {
		t.Fatalf("all acked: bounds %d, %d; want %d, %d", acked, e, a5.end, a5.end)
	}
}

func TestFileQueueAppendReadAck(t *testing.T) {
	dir := t.TempDir()
	rep := &reportLog{}
	q := openQ(t, dir, 16<<20, 0, rep)
	checkQueueSemantics(t, q, frameSize)
	if r := rep.all(); len(r) != 0 {
		t.Fatalf("reports from a healthy spool: %q", r)
	}
}

func TestMemQueueAppendReadAck(t *testing.T) {
	checkQueueSemantics(t, &memQueue{}, func(f frame) int64 { return int64(len(f.lines)) })
}

// What was appended is read back the same after the queue is closed and
// opened again; appends go on after it.
func TestFileQueuePersistsAcrossReopen(t *testing.T) {
	dir := t.TempDir()
	rep := &reportLog{}
	q := openQ(t, dir, 16<<20, 0, rep)
	f1 := mkFrame("acme", `{"a":1}`, `{"a":2}`)
	f2 := mkFrame("beta", `{"b":1}`)
	f1.end = frameSize(f1)
	f2.end = f1.end + frameSize(f2)
	if _, _, err := q.append([]frame{f1, f2}); err != nil {
		t.Fatal(err)
	}
	if err := q.close(); err != nil {
		t.Fatal(err)
	}
	q = openQ(t, dir, 16<<20, 0, rep)
	if acked, end := q.bounds(); acked != 0 || end != f2.end {
		t.Fatalf("reopened: bounds %d, %d; want 0, %d", acked, end, f2.end)
	}
	sameFrames(t, "reopened read(0)", readCopy(t, q, 0, 1<<20, 1000), []frame{f1})
	sameFrames(t, "reopened read(f1.end)", readCopy(t, q, f1.end, 1<<20, 1000), []frame{f2})
	f3 := mkFrame("beta", `{"b":2}`)
	f3.end = f2.end + frameSize(f3)
	if end, _, err := q.append([]frame{f3}); err != nil || end != f3.end {
		t.Fatalf("append after reopen: %d, %v", end, err)
	}
	sameFrames(t, "read after append", readCopy(t, q, f1.end, 1<<20, 1000), []frame{f2, f3})
	if r := rep.all(); len(r) != 0 {
		t.Fatalf("reports from a healthy spool: %q", r)
	}
}

// A frame larger than the read window (maxBytes and its margin) is read
// whole, alone.
func TestFileQueueReadsAFrameLargerThanTheWindow(t *testing.T) {
	dir := t.TempDir()
	rep := &reportLog{}
	q := openQ(t, dir, 16<<20, 0, rep)
	line := `{"big":"` + strings.Repeat("x", 200<<10) + `"}`
	big := mkFrame("acme", line)
	small := mkFrame("acme", `{"small":1}`)
	big.end = frameSize(big)
	small.end = big.end + frameSize(small)
	if _, _, err := q.append([]frame{big, small}); err != nil {
		t.Fatal(err)
	}
	sameFrames(t, "read(0, maxBytes 1000)", readCopy(t, q, 0, 1000, 1000), []frame{big})
	sameFrames(t, "read(big.end)", readCopy(t, q, big.end, 1000, 1000), []frame{small})
	if r := rep.all(); len(r) != 0 {
		t.Fatalf("reports: %q", r)
	}
}

// A crash in the middle of a write leaves part of a frame at the end of
// the last segment: opening the spool cuts it (and says so), keeps every
// whole frame before it, and appends go on from there.
func TestFileQueueCutsATornTail(t *testing.T) {
	torn := mkFrame("acme", `{"torn":"`+strings.Repeat("t", 100)+`"}`)
	whole := appendFrame(nil, torn)
	for _, keep := range []int{1, 5, headerSize, headerSize + 2, len(whole) / 2, len(whole) - 1} {
		t.Run(strconv.Itoa(keep), func(t *testing.T) {
			dir := t.TempDir()
			rep := &reportLog{}
			q := openQ(t, dir, 16<<20, 0, rep)
			f1 := mkFrame("acme", `{"n":1}`, `{"n":2}`)
			f2 := mkFrame("acme", `{"n":3}`)
			f1.end = frameSize(f1)
			f2.end = f1.end + frameSize(f2)
			if _, _, err := q.append([]frame{f1, f2}); err != nil {
				t.Fatal(err)
			}
			if err := q.ack(f1.end); err != nil {
				t.Fatal(err)
			}
			q.close()
			segs := segFiles(t, dir)
			if len(segs) != 1 {
				t.Fatalf("segments %v", segs)
			}
			path := filepath.Join(dir, segs[0])
			fh, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := fh.Write(whole[:keep]); err != nil {
				t.Fatal(err)
			}
			fh.Close()

			q = openQ(t, dir, 16<<20, 0, rep)
			r := rep.all()
			if len(r) != 1 || !strings.Contains(r[0], fmt.Sprintf("cut %d bytes", keep)) || !strings.Contains(r[0], path) {
				t.Fatalf("reports %q: want one saying %d bytes of %s were cut", r, keep, path)
			}
			if acked, end := q.bounds(); acked != f1.end || end != f2.end {
				t.Fatalf("bounds %d, %d; want %d, %d", acked, end, f1.end, f2.end)
			}
			if fi, err := os.Stat(path); err != nil || fi.Size() != f2.end {
				t.Fatalf("segment after open: %v, %v; want %d bytes", fi.Size(), err, f2.end)
			}
			sameFrames(t, "read(0)", readCopy(t, q, 0, 1<<20, 1000), []frame{f1, f2})
			f3 := mkFrame("acme", `{"n":4}`)
			f3.end = f2.end + frameSize(f3)
			if end, _, err := q.append([]frame{f3}); err != nil || end != f3.end {
				t.Fatalf("append after the cut: %d, %v", end, err)
			}
			sameFrames(t, "read after the cut", readCopy(t, q, f1.end, 1<<20, 1000), []frame{f2, f3})
			// And it is all still whole the next time.
			q.close()
			q = openQ(t, dir, 16<<20, 0, rep)
			if r := rep.all(); len(r) != 1 {
				t.Fatalf("a second open reported again: %q", r)
			}
			sameFrames(t, "read after reopening", readCopy(t, q, f1.end, 1<<20, 1000), []frame{f2, f3})
		})
	}
}

// corruptLane makes a lane with two segments: A B C in the first (not the
// last), D E in the second. All frames have the same size S.
func corruptLane(t *testing.T, dir string, rep *reportLog) (q *fileQueue, fs []frame, S int64) {
	t.Helper()
	for i := range 5 {
		fs = append(fs, mkFrame("acme", fmt.Sprintf(`{"frame":"%c"}`, 'A'+i)))
	}
	S = frameSize(fs[0])
	q = openQ(t, dir, 3*S, 0, rep)
	for i := range fs {
		fs[i].end = int64(i+1) * S
		if _, _, err := q.append(fs[i : i+1]); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := segFiles(t, dir), []string{segName(0), segName(3 * S)}; !slices.Equal(got, want) {
		t.Fatalf("segments %v, want %v", got, want)
	}
	return q, fs, S
}

func flipByte(t *testing.T, path string, off int64) {
	t.Helper()
	fh, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	var b [1]byte
	if _, err := fh.ReadAt(b[:], off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0xa5
	if _, err := fh.WriteAt(b[:], off); err != nil {
		t.Fatal(err)
	}
}

// drain reads and acks from the acked position to the end, as the sender
// does, and returns the lines read. It fails rather than loop.
func drain(t *testing.T, q queue) string {
	t.Helper()
	var got []byte
	for range 100 {
		acked, end := q.bounds()
		if acked >= end {
			return string(got)
		}
		frames, err := q.read(acked, 1<<20, 1000)
		if err != nil || len(frames) == 0 {
			t.Fatalf("read(%d) of %d: %d frames, %v: the lane is stuck", acked, end, len(frames), err)
		}
		for _, f := range frames {
			got = append(got, f.lines...)
		}
		if err := q.ack(frames[len(frames)-1].end); err != nil {
			t.Fatal(err)
		}
	}
	t.Fatal("drain does not end")
	return ""
}

// A corrupted byte inside a segment that is not the last (bit rot, not a
// torn write) makes the reader skip the damaged frame up to the next whole
// one (C) and report it, once: it neither loops nor crashes.
func TestFileQueueSkipsACorruptSegment(t *testing.T) {
	tlen := int64(len("acme"))
	for _, tc := range []struct {
		name string
		off  int64 // within frame B
	}{
		{"magic", 0},
		{"length", 4},
		{"checksum", 12},
		{"tenant-length", 16},
		{"tenant", headerSize + 1},
		{"payload", headerSize + tlen + 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			rep := &reportLog{}
			q, fs, S := corruptLane(t, dir, rep)
			seg0 := filepath.Join(dir, segName(0))
			flipByte(t, seg0, S+tc.off)
			// The sender acked A; it now reads from B.
			if err := q.ack(S); err != nil {
				t.Fatal(err)
			}
			got := readCopy(t, q, S, 1<<20, 1000)
			if len(got) != 1 || got[0].count != 0 || len(got[0].lines) != 0 || got[0].end != 2*S {
				t.Fatalf("read at the corrupt frame: %s; want one empty frame ending at the next whole frame (%d)", describe(got), 2*S)
			}
			r := rep.all()
			if len(r) != 1 || !strings.Contains(r[0], seg0) || !strings.Contains(r[0], "skipping") {
				t.Fatalf("reports %q: want one naming %s and the skip", r, seg0)
			}
			sameFrames(t, "read(next frame)", readCopy(t, q, 2*S, 1<<20, 1000), []frame{fs[2]})
			// As the sender goes: it gets past the corruption and reaches the end.
			if lines, want := drain(t, q), string(fs[2].lines)+string(fs[3].lines)+string(fs[4].lines); lines != want {
				t.Fatalf("drained %q, want %q", lines, want)
			}
			if len(rep.all()) != 2 {
				// drain re-read the corrupt frame once
				t.Fatalf("reports %q", rep.all())
			}
		})
	}
}

// Frames before a corrupt frame in the same read are delivered; only the
// corrupt frame is skipped.
func TestFileQueueKeepsFramesBeforeTheCorruption(t *testing.T) {
	dir := t.TempDir()
	rep := &reportLog{}
	q, fs, S := corruptLane(t, dir, rep)
	flipByte(t, filepath.Join(dir, segName(0)), S+headerSize+4+3)
	want := string(fs[0].lines) + string(fs[2].lines) + string(fs[3].lines) + string(fs[4].lines)
	if got := drain(t, q); got != want {
		t.Fatalf("drained %q, want %q (A, C, then the next segment: only B is lost)", got, want)
	}
}

// A corrupted length field in a segment larger than the read window is
// skipped like any other corruption, not retried for ever.
func TestFileQueueSkipsACorruptLengthInALargeSegment(t *testing.T) {
	dir := t.TempDir()
	rep := &reportLog{}
	line := `{"pad":"` + strings.Repeat("p", 10<<10) + `"}`
	f := mkFrame("acme", line)
	S := frameSize(f)
	q := openQ(t, dir, 30*S, 0, rep)
	for range 31 {
		if _, _, err := q.append([]frame{f}); err != nil {
			t.Fatal(err)
		}
	}
	if got := segFiles(t, dir); len(got) != 2 {
		t.Fatalf("segments %v", got)
	}
	// Frame 5 claims 100 KiB: more than the 64 KiB window of a 1000-byte
	// read, less than the segment.
	fh, err := os.OpenFile(filepath.Join(dir, segName(0)), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	var n [4]byte
	binary.LittleEndian.PutUint32(n[:], 100<<10)
	if _, err := fh.WriteAt(n[:], 5*S+4); err != nil {
		t.Fatal(err)
	}
	fh.Close()
	frames, err := q.read(5*S, 1000, 1000)
	if err != nil || len(frames) != 1 || frames[0].count != 0 || frames[0].end != 6*S {
		t.Fatalf("read at the corrupt frame: %s, %v; want one empty frame ending at the next whole frame %d", describe(frames), err, 6*S)
	}
	if r := rep.all(); len(r) != 1 {
		t.Fatalf("reports %q", r)
	}
}

// A segment that is not the last but ends early (its tail lost) is
// skipped, not read for ever.
func TestFileQueueSkipsAShortSegment(t *testing.T) {
	for _, cut := range []int64{0, 5} {
		t.Run(strconv.FormatInt(cut, 10), func(t *testing.T) {
			dir := t.TempDir()
			rep := &reportLog{}
			q, fs, S := corruptLane(t, dir, rep)
			if err := os.Truncate(filepath.Join(dir, segName(0)), 2*S+cut); err != nil {
				t.Fatal(err)
			}
			want := string(fs[0].lines) + string(fs[1].lines) + string(fs[3].lines) + string(fs[4].lines)
			if got := drain(t, q); got != want {
				t.Fatalf("drained %q, want %q", got, want)
			}
			if len(rep.all()) == 0 {
				t.Fatal("the lost tail was not reported")
			}
		})
	}
}

// Segments rotate at segMax; a segment wholly before the cursor is
// deleted (never the one being appended to, unless it is full and all
// delivered); the cursor survives close and reopen.
func TestFileQueueRotatesAndDeletesSegments(t *testing.T) {
	dir := t.TempDir()
	rep := &reportLog{}
	var fs []frame
	for i := range 10 {
		fs = append(fs, mkFrame("acme", fmt.Sprintf(`{"event":%02d}`, i)))
	}
	S := frameSize(fs[0])
	for i := range fs {
		fs[i].end = int64(i+1) * S
	}
	q := openQ(t, dir, 2*S, 0, rep)
	// One frame in the first append, four in the second: rotation also
	// happens inside one append.
	if end, _, err := q.append(fs[:1]); err != nil || end != S {
		t.Fatalf("append: %d, %v", end, err)
	}
	if end, _, err := q.append(fs[1:5]); err != nil || end != 5*S {
		t.Fatalf("append: %d, %v", end, err)
	}
	if got, want := segFiles(t, dir), []string{segName(0), segName(2 * S), segName(4 * S)}; !slices.Equal(got, want) {
		t.Fatalf("segments %v, want %v", got, want)
	}
	for i, name := range []string{segName(0), segName(2 * S)} {
		if fi, err := os.Stat(filepath.Join(dir, name)); err != nil || fi.Size() != 2*S {
			t.Fatalf("segment %d: %v, %v; want %d bytes", i, fi, err, 2*S)
		}
	}
	// Reads cross segment boundaries one segment at a time.
	sameFrames(t, "read(0)", readCopy(t, q, 0, 1<<20, 1000), fs[0:2])
	sameFrames(t, "read(2S)", readCopy(t, q, 2*S, 1<<20, 1000), fs[2:4])
	sameFrames(t, "read(3S)", readCopy(t, q, 3*S, 1<<20, 1000), fs[3:4])
	sameFrames(t, "read(4S)", readCopy(t, q, 4*S, 1<<20, 1000), fs[4:5])

	if err := q.ack(S); err != nil {
		t.Fatal(err)
	}
	if got := segFiles(t, dir); len(got) != 3 {
		t.Fatalf("a segment was deleted before it was all acked: %v", got)
	}
	if err := q.ack(2 * S); err != nil {
		t.Fatal(err)
	}
	if got, want := segFiles(t, dir), []string{segName(2 * S), segName(4 * S)}; !slices.Equal(got, want) {
		t.Fatalf("after ack(2S): segments %v, want %v", got, want)
	}
	if b, err := os.ReadFile(filepath.Join(dir, cursorFile)); err != nil || strings.TrimSpace(string(b)) != strconv.FormatInt(2*S, 10) {
		t.Fatalf("cursor file %q, %v; want %d", b, err, 2*S)
	}
	if err := q.ack(3 * S); err != nil {
		t.Fatal(err)
	}

	// The cursor persists across close and reopen.
	if err := q.close(); err != nil {
		t.Fatal(err)
	}
	q = openQ(t, dir, 2*S, 0, rep)
	if acked, end := q.bounds(); acked != 3*S || end != 5*S {
		t.Fatalf("reopened: bounds %d, %d; want %d, %d", acked, end, 3*S, 5*S)
	}
	sameFrames(t, "reopened read(3S)", readCopy(t, q, 3*S, 1<<20, 1000), fs[3:4])

	// All delivered: the segments before the last go; the last, not full,
	// stays to be appended to.
	if err := q.ack(5 * S); err != nil {
		t.Fatal(err)
	}
	if got, want := segFiles(t, dir), []string{segName(4 * S)}; !slices.Equal(got, want) {
		t.Fatalf("after ack(5S): segments %v, want %v", got, want)
	}
	if _, _, err := q.append(fs[5:6]); err != nil {
		t.Fatal(err)
	}
	if got, want := segFiles(t, dir), []string{segName(4 * S)}; !slices.Equal(got, want) {
		t.Fatalf("after appending one more: segments %v, want %v", got, want)
	}
	// The only segment, full and all delivered, is deleted; the next
	// append starts a new one at the end position.
	if err := q.ack(6 * S); err != nil {
		t.Fatal(err)
	}
	if got := segFiles(t, dir); len(got) != 0 {
		t.Fatalf("a full, delivered, only segment was kept: %v", got)
	}
	if acked, end := q.bounds(); acked != 6*S || end != 6*S {
		t.Fatalf("bounds %d, %d", acked, end)
	}
	if end, _, err := q.append(fs[6:7]); err != nil || end != 7*S {
		t.Fatalf("append: %d, %v", end, err)
	}
	if got, want := segFiles(t, dir), []string{segName(6 * S)}; !slices.Equal(got, want) {
		t.Fatalf("segments %v, want %v", got, want)
	}
	sameFrames(t, "read(6S)", readCopy(t, q, 6*S, 1<<20, 1000), fs[6:7])
	if err := q.ack(7 * S); err != nil {
		t.Fatal(err)
	}
	// Reopened with everything delivered (and possibly no segment): the
	// positions go on from the cursor.
	q.close()
	q = openQ(t, dir, 2*S, 0, rep)
	if acked, end := q.bounds(); acked != 7*S || end != 7*S {
		t.Fatalf("reopened empty: bounds %d, %d; want %d, %d", acked, end, 7*S, 7*S)
	}
	if end, _, err := q.append(fs[7:8]); err != nil || end != 8*S {
		t.Fatalf("append: %d, %v", end, err)
	}
	sameFrames(t, "read(7S)", readCopy(t, q, 7*S, 1<<20, 1000), fs[7:8])
	if r := rep.all(); len(r) != 0 {
		t.Fatalf("reports: %q", r)
	}
}

// Without its cursor file the lane starts at its first segment: events
// are sent again (the server keeps each id once), never lost.
func TestFileQueueLostCursorResends(t *testing.T) {
	for _, how := range []string{"deleted", "garbage"} {
		t.Run(how, func(t *testing.T) {
			dir := t.TempDir()
			rep := &reportLog{}
			var fs []frame
			for i := range 6 {
				fs = append(fs, mkFrame("acme", fmt.Sprintf(`{"event":%d}`, i)))
			}
			S := frameSize(fs[0])
			for i := range fs {
				fs[i].end = int64(i+1) * S
			}
			q := openQ(t, dir, 2*S, 0, rep)
			for i := range fs {
				if _, _, err := q.append(fs[i : i+1]); err != nil {
					t.Fatal(err)
				}
			}
			if err := q.ack(3 * S); err != nil { // deletes the first segment
				t.Fatal(err)
			}
			if got, want := segFiles(t, dir), []string{segName(2 * S), segName(4 * S)}; !slices.Equal(got, want) {
				t.Fatalf("segments %v, want %v", got, want)
			}
			q.close()
			cur := filepath.Join(dir, cursorFile)
			if how == "deleted" {
				if err := os.Remove(cur); err != nil {
					t.Fatal(err)
				}
			} else if err := os.WriteFile(cur, []byte("not a number\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			q = openQ(t, dir, 2*S, 0, rep)
			if acked, end := q.bounds(); acked != 2*S || end != 6*S {
				t.Fatalf("bounds %d, %d; want %d (the first segment), %d", acked, end, 2*S, 6*S)
			}
			want := ""
			for _, f := range fs[2:] {
				want += string(f.lines)
			}
			if got := drain(t, q); got != want {
				t.Fatalf("resent %q, want %q", got, want)
			}
		})
	}
	t.Run("ahead of the end", func(t *testing.T) {
		// A cursor past what is in the spool (its tail was cut) is pulled
		// back to the end.
		dir := t.TempDir()
		rep := &reportLog{}
		q := openQ(t, dir, 1<<20, 0, rep)
		f := mkFrame("acme", `{"x":1}`)
		if _, _, err := q.append([]frame{f}); err != nil {
			t.Fatal(err)
		}
		q.close()
		if err := os.WriteFile(filepath.Join(dir, cursorFile), []byte("999999\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		q = openQ(t, dir, 1<<20, 0, rep)
		if acked, end := q.bounds(); acked != frameSize(f) || end != frameSize(f) {
			t.Fatalf("bounds %d, %d; want both %d", acked, end, frameSize(f))
		}
	})
}

// Past maxSize a frame is not written: errSpoolFull, and the frames
// before it are kept.
func TestFileQueueFull(t *testing.T) {
	dir := t.TempDir()
	rep := &reportLog{}
	f := mkFrame("acme", `{"x":1}`)
	S := frameSize(f)
	q := openQ(t, dir, 1<<20, 2*S+S/2, rep)
	end, _, err := q.append([]frame{f, f, f})
	if err != errSpoolFull || end != 2*S {
		t.Fatalf("append over the limit: %d, %v; want %d, errSpoolFull", end, err, 2*S)
	}
	if _, e := q.bounds(); e != 2*S {
		t.Fatalf("end %d", e)
	}
	if got := readCopy(t, q, 0, 1<<20, 1000); len(got) != 2 {
		t.Fatalf("kept %s", describe(got))
	}
	if err := q.ack(2 * S); err != nil {
		t.Fatal(err)
	}
	if end, _, err := q.append([]frame{f}); err != nil || end != 3*S {
		t.Fatalf("append after delivery: %d, %v", end, err)
	}
}

// The first append to an empty lane respects segMax too: one large append
// becomes several segments.
func TestFileQueueFirstAppendRotates(t *testing.T) {
	dir := t.TempDir()
	f := mkFrame("acme", `{"n":"0123456789012345678901234567890123456789"}`)
	S := frameSize(f)
	q := openQ(t, dir, 2*S, 0, &reportLog{})
	var frames []frame
	for range 8 {
		frames = append(frames, f)
	}
	if _, _, err := q.append(frames); err != nil {
		t.Fatal(err)
	}
	if got := segFiles(t, dir); len(got) != 4 {
		t.Fatalf("8 frames with room for 2 per segment made segments %v", got)
	}
	if got := drain(t, q); strings.Count(got, "\n") != 8 {
		t.Fatalf("drained %q", got)
	}
}

// Damage in the middle of the last segment (not a torn tail: whole frames
// follow it) is not cut at open; only the damaged frame is skipped.
func TestFileQueueLastSegmentDamageKeepsLaterFrames(t *testing.T) {
	dir := t.TempDir()
	rep := &reportLog{}
	var fs []frame
	q := openQ(t, dir, 1<<20, 0, rep)
	for i := range 4 {
		f := mkFrame("acme", fmt.Sprintf(`{"frame":%d}`, i))
		fs = append(fs, f)
		if _, _, err := q.append([]frame{f}); err != nil {
			t.Fatal(err)
		}
	}
	q.close()
	S := frameSize(fs[0])
	flipByte(t, filepath.Join(dir, segName(0)), S+headerSize+6)
	q = openQ(t, dir, 1<<20, 0, rep)
	want := string(fs[0].lines) + string(fs[2].lines) + string(fs[3].lines)
	if got := drain(t, q); got != want {
		t.Fatalf("drained %q, want %q", got, want)
	}
	if r := strings.Join(rep.all(), "\n"); !strings.Contains(r, "whole frames follow and are kept") || !strings.Contains(r, "skipping") {
		t.Fatalf("reports %q", r)
	}
}
