package ledger

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// The ledger stream is how a server hands its stored events to a verifying
// client (GET /v1/ledger): a sequence of records, each
//
//	u64 seq ‖ u16 len ‖ id ‖ i64 received_at ‖ u16 len ‖ type ‖ u16 len ‖ key id
//	‖ 32 body_commit ‖ u8 has leaf hash ‖ [32 leaf hash]
//	‖ u8 salt length ‖ salt ‖ u32 body length (0xffffffff: deleted) ‖ body
//
// all big-endian. It carries what the verifier needs to recompute every leaf
// and body commitment, and nothing it does not.

// StreamContentType is the media type of the ledger stream.
const StreamContentType = "application/vnd.clawtrail.ledger.v1"

const noBody = 0xffffffff

// MaxStreamBody bounds one body in a stream (the ingest limit is far lower).
const MaxStreamBody = 64 << 20

// AppendRecord appends rec in the stream encoding.
func AppendRecord(dst []byte, rec *Record) []byte {
	dst = binary.BigEndian.AppendUint64(dst, uint64(rec.Seq))
	dst = appendStr(dst, rec.ID)
	dst = binary.BigEndian.AppendUint64(dst, uint64(rec.ReceivedAt))
	dst = appendStr(dst, rec.Type)
	dst = appendStr(dst, rec.KeyID)
	dst = append(dst, rec.BodyCommit[:]...)
	if len(rec.LeafHash) == 32 {
		dst = append(dst, 1)
		dst = append(dst, rec.LeafHash...)
	} else {
		dst = append(dst, 0)
	}
	dst = append(dst, byte(len(rec.Salt)))
	dst = append(dst, rec.Salt...)
	if rec.Body == nil {
		return binary.BigEndian.AppendUint32(dst, noBody)
	}
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(rec.Body)))
	return append(dst, rec.Body...)
}

// StreamReader reads a ledger stream.
type StreamReader struct {
	r   *bufio.Reader
	buf []byte
}

// NewStreamReader reads records from r.
func NewStreamReader(r io.Reader) *StreamReader {
	return &StreamReader{r: bufio.NewReaderSize(r, 256<<10)}
}

// ErrMalformedStream reports bytes that are not a ledger stream.
var ErrMalformedStream = errors.New("malformed ledger stream")

// Next reads the next record into rec, reusing its byte slices' storage.
// It returns io.EOF at a clean end.
func (s *StreamReader) Next(rec *Record) error {
	var hdr [8]byte
	if _, err := io.ReadFull(s.r, hdr[:]); err != nil {
		if err == io.EOF {
			return io.EOF
		}
		return fmt.Errorf("%w: %v", ErrMalformedStream, err)
	}
	rec.Seq = int64(binary.BigEndian.Uint64(hdr[:]))
	rec.Hashed = false
	var err error
	str := func() string {
		if err != nil {
			return ""
		}
		var n [2]byte
		if _, err = io.ReadFull(s.r, n[:]); err != nil {
			return ""
		}
		b := make([]byte, binary.BigEndian.Uint16(n[:]))
		_, err = io.ReadFull(s.r, b)
		return string(b)
	}
	rec.ID = str()
	if err == nil {
		_, err = io.ReadFull(s.r, hdr[:])
		rec.ReceivedAt = int64(binary.BigEndian.Uint64(hdr[:]))
	}
	rec.Type = str()
	rec.KeyID = str()
	if err == nil {
		_, err = io.ReadFull(s.r, rec.BodyCommit[:])
	}
	var flag [1]byte
	if err == nil {
		_, err = io.ReadFull(s.r, flag[:])
	}
	if err == nil && flag[0] == 1 {
		rec.LeafHash = grow(rec.LeafHash, 32)
		_, err = io.ReadFull(s.r, rec.LeafHash)
	} else {
		rec.LeafHash = nil
		if err == nil && flag[0] != 0 {
			err = errors.New("bad leaf hash flag")
		}
	}
	if err == nil {
		_, err = io.ReadFull(s.r, flag[:])
	}
	if err == nil {
		if flag[0] == 0 {
			rec.Salt = nil
		} else {
			rec.Salt = grow(rec.Salt, int(flag[0]))
			_, err = io.ReadFull(s.r, rec.Salt)
		}
	}
	var n [4]byte
	if err == nil {
		_, err = io.ReadFull(s.r, n[:])
	}
	if err == nil {
		switch l := binary.BigEndian.Uint32(n[:]); {
		case l == noBody:
			rec.Body = nil
		case l > MaxStreamBody:
			err = fmt.Errorf("body of %d bytes", l)
		default:
			rec.Body = grow(rec.Body, int(l))
			_, err = io.ReadFull(s.r, rec.Body)
		}
	}
	if err != nil {
		return fmt.Errorf("%w: record after seq %d: %v", ErrMalformedStream, rec.Seq-1, err)
	}
	return nil
}

func grow(b []byte, n int) []byte {
	if b != nil && cap(b) >= n {
		return b[:n]
	}
	return make([]byte, n)
}
