package emitter

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// On-disk format. A spool is a directory of segment files named by a zero-padded sequence
// number ("00000000000000000007.seg"), replayed in sequence order. A segment is a run of
// records, each:
//
//	uint32 big-endian  payload length
//	uint32 big-endian  CRC-32C (Castagnoli) of the payload
//	payload            uvarint key length, key (partner id), value (the event's JSON)
//
// A record whose header or payload is cut short, whose length is absurd, or whose checksum
// does not match ends its segment: the rest of that segment is skipped (its length cannot be
// trusted to find the next record) and counted as one corrupt record. This is what a crash in
// the middle of an append leaves behind.
const (
	segmentSuffix  = ".seg"
	recordHeader   = 8
	maxRecordBytes = 16 << 20
	lockFileName   = "LOCK"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// errSpoolFull is returned by append when the record would take the spool past its bound.
var errSpoolFull = errors.New("emitter: spool full")

// spoolRecord is one spooled Kafka message.
type spoolRecord struct {
	key, value []byte
}

// spoolPos is a position in the spool: a byte offset inside a segment.
type spoolPos struct {
	seq uint64
	off int64
}

type segment struct {
	seq  uint64
	size int64 // bytes of complete records appended (buffered or not)
}

// spool is the bounded, append-only, on-disk queue of events that could not be sent. It is
// owned by the emitter's background goroutine alone, so it takes no locks.
//
// Appends always go to a segment created by this process (never to one found on disk, whose
// tail may be torn). Records are handed to the OS (write(2)) by flush, which the background
// calls after every burst of appends and before every read, so a crash of the process loses
// nothing that was appended; sync adds fsync and runs once a second while the spool is being
// written, on segment rotation and on close, so a crash of the machine loses at most about
// the last second.
type spool struct {
	dir          string
	maxBytes     int64
	segmentBytes int64
	log          *slog.Logger
	unlock       func() error

	segs    []segment // oldest first; the last one is the write segment while w is open
	total   int64     // bytes on disk (or buffered) across segs
	nextSeq uint64

	w     *os.File
	bw    *bufio.Writer
	dirty bool // appended since the last fsync

	rpos    spoolPos // next record to read; ahead of committed while a replay is in flight
	rf      *os.File
	rseq    uint64
	br      *bufio.Reader
	corrupt uint64 // corrupt records skipped since open
}

// openSpool opens (creating if needed) the spool in dir and takes its lock, so two emitters
// never share one spool. Segments left by an earlier process are kept for replay.
func openSpool(dir string, maxBytes, segmentBytes int64, log *slog.Logger) (*spool, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("emitter: spool dir: %w", err)
	}
	unlock, err := lockDir(filepath.Join(dir, lockFileName))
	if err != nil {
		return nil, fmt.Errorf("emitter: spool %s is in use by another emitter: %w", dir, err)
	}
	s := &spool{dir: dir, maxBytes: maxBytes, segmentBytes: segmentBytes, log: log, unlock: unlock, nextSeq: 1}
	entries, err := os.ReadDir(dir)
	if err != nil {
		_ = unlock()
		return nil, fmt.Errorf("emitter: spool dir: %w", err)
	}
	for _, ent := range entries {
		name, ok := strings.CutSuffix(ent.Name(), segmentSuffix)
		if !ok || ent.IsDir() {
			continue
		}
		seq, err := strconv.ParseUint(name, 10, 64)
		if err != nil {
			continue
		}
		info, err := ent.Info()
		if err != nil {
			_ = unlock()
			return nil, fmt.Errorf("emitter: spool segment: %w", err)
		}
		s.segs = append(s.segs, segment{seq: seq, size: info.Size()})
		s.total += info.Size()
		s.nextSeq = max(s.nextSeq, seq+1)
	}
	slices.SortFunc(s.segs, func(a, b segment) int { return cmpUint(a.seq, b.seq) })
	if len(s.segs) > 0 {
		s.rpos = spoolPos{seq: s.segs[0].seq}
	}
	return s, nil
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (s *spool) segmentPath(seq uint64) string {
	return filepath.Join(s.dir, fmt.Sprintf("%020d%s", seq, segmentSuffix))
}

// bytes is the spool's size on disk, records already replayed but not yet deleted included.
func (s *spool) bytes() int64 { return s.total }

// empty reports whether every record has been replayed and acknowledged.
func (s *spool) empty() bool { return len(s.segs) == 0 }

// append adds one record, or returns errSpoolFull when it does not fit in maxBytes.
func (s *spool) append(key, value []byte) error {
	payload := binary.AppendUvarint(make([]byte, 0, binary.MaxVarintLen32+len(key)+len(value)), uint64(len(key)))
	payload = append(append(payload, key...), value...)
	n := int64(recordHeader + len(payload))
	if len(payload) > maxRecordBytes {
		return fmt.Errorf("emitter: record of %d bytes is larger than the spool's record limit", len(payload))
	}
	if s.total+n > s.maxBytes {
		return errSpoolFull
	}
	if s.w == nil || s.segs[len(s.segs)-1].size >= s.segmentBytes {
		if err := s.rotate(); err != nil {
			return err
		}
	}
	var hdr [recordHeader]byte
	binary.BigEndian.PutUint32(hdr[0:4], uint32(len(payload)))
	binary.BigEndian.PutUint32(hdr[4:8], crc32.Checksum(payload, castagnoli))
	if _, err := s.bw.Write(hdr[:]); err != nil {
		return s.writeFailed(err)
	}
	if _, err := s.bw.Write(payload); err != nil {
		return s.writeFailed(err)
	}
	s.segs[len(s.segs)-1].size += n
	s.total += n
	s.dirty = true
	return nil
}

// writeFailed abandons the write segment after a failed write, so that later appends start
// a clean segment instead of following a partial record.
func (s *spool) writeFailed(err error) error {
	_ = s.w.Close()
	s.w, s.bw = nil, nil
	return fmt.Errorf("emitter: spool write: %w", err)
}

// rotate closes the write segment (flushed and synced) and starts a new one.
func (s *spool) rotate() error {
	if err := s.closeWriter(); err != nil {
		return err
	}
	seq := s.nextSeq
	f, err := os.OpenFile(s.segmentPath(seq), os.O_CREATE|os.O_EXCL|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return fmt.Errorf("emitter: spool segment: %w", err)
	}
	s.nextSeq++
	s.w, s.bw = f, bufio.NewWriterSize(f, 64<<10)
	s.segs = append(s.segs, segment{seq: seq})
	if len(s.segs) == 1 {
		s.rpos = spoolPos{seq: seq}
	}
	return syncDir(s.dir)
}

func (s *spool) closeWriter() error {
	if s.w == nil {
		return nil
	}
	err := s.sync()
	if cerr := s.w.Close(); err == nil {
		err = cerr
	}
	s.w, s.bw = nil, nil
	return err
}

// flush hands buffered appends to the OS.
func (s *spool) flush() error {
	if s.bw == nil {
		return nil
	}
	if err := s.bw.Flush(); err != nil {
		return s.writeFailed(err)
	}
	return nil
}

// sync flushes and fsyncs the write segment if anything was appended since the last sync.
func (s *spool) sync() error {
	if err := s.flush(); err != nil {
		return err
	}
	if !s.dirty || s.w == nil {
		return nil
	}
	s.dirty = false
	if err := s.w.Sync(); err != nil {
		return fmt.Errorf("emitter: spool fsync: %w", err)
	}
	return nil
}

// next reads up to maxRecords records (and about maxBytes of values) from the read
// position on, without acknowledging them; end is where the read stopped, to hand to
// commit once Kafka has acknowledged the records.
func (s *spool) next(maxRecords int, maxBytes int64) (recs []spoolRecord, end spoolPos, err error) {
	if err := s.flush(); err != nil {
		return nil, s.rpos, err
	}
	var size int64
	positioned := false
	for len(recs) < maxRecords && size < maxBytes {
		i := s.segIndex(s.rpos.seq)
		if i < 0 {
			break
		}
		if s.rpos.off >= s.segs[i].size {
			if i+1 == len(s.segs) {
				break
			}
			s.rpos = spoolPos{seq: s.segs[i+1].seq}
			positioned = false
			continue
		}
		if !positioned {
			if err := s.position(s.segs[i]); err != nil {
				return recs, s.rpos, err
			}
			positioned = true
		}
		rec, n, err := s.readRecord(s.segs[i])
		if err != nil {
			if errors.Is(err, errCorrupt) {
				s.corrupt++
				s.log.Error("emitter: corrupt or torn spool record, skipping the rest of its segment",
					"segment", s.segmentPath(s.rpos.seq), "offset", s.rpos.off, "err", err)
				s.rpos.off = s.segs[i].size
				continue
			}
			return recs, s.rpos, err
		}
		s.rpos.off += n
		size += int64(len(rec.value))
		recs = append(recs, rec)
	}
	return recs, s.rpos, nil
}

var errCorrupt = errors.New("corrupt record")

func (s *spool) segIndex(seq uint64) int {
	for i, sg := range s.segs {
		if sg.seq == seq {
			return i
		}
	}
	return -1
}

// readRecord reads the record at s.rpos in seg and returns it with its size on disk.
func (s *spool) readRecord(seg segment) (spoolRecord, int64, error) {
	left := seg.size - s.rpos.off
	if left < recordHeader {
		return spoolRecord{}, 0, fmt.Errorf("%w: %d-byte header", errCorrupt, left)
	}
	var hdr [recordHeader]byte
	if _, err := io.ReadFull(s.br, hdr[:]); err != nil {
		return spoolRecord{}, 0, fmt.Errorf("%w: header: %v", errCorrupt, err)
	}
	n := int64(binary.BigEndian.Uint32(hdr[0:4]))
	if n > maxRecordBytes || recordHeader+n > left {
		return spoolRecord{}, 0, fmt.Errorf("%w: length %d with %d bytes left", errCorrupt, n, left-recordHeader)
	}
	payload := make([]byte, n)
	if _, err := io.ReadFull(s.br, payload); err != nil {
		return spoolRecord{}, 0, fmt.Errorf("%w: payload: %v", errCorrupt, err)
	}
	if crc32.Checksum(payload, castagnoli) != binary.BigEndian.Uint32(hdr[4:8]) {
		return spoolRecord{}, 0, fmt.Errorf("%w: checksum mismatch", errCorrupt)
	}
	keyLen, k := binary.Uvarint(payload)
	if k <= 0 || keyLen > uint64(len(payload)-k) {
		return spoolRecord{}, 0, fmt.Errorf("%w: key length", errCorrupt)
	}
	key := payload[k : k+int(keyLen)]
	return spoolRecord{key: key, value: payload[k+int(keyLen):]}, recordHeader + n, nil
}

// position points the reader at s.rpos in seg, bounded by the segment's current size: the
// write segment grows between reads, and a reader that had met its end must not remember
// that EOF (bufio would).
func (s *spool) position(seg segment) error {
	if s.rf == nil || s.rseq != seg.seq {
		s.closeReader()
		f, err := os.Open(s.segmentPath(seg.seq))
		if err != nil {
			return fmt.Errorf("emitter: spool read: %w", err)
		}
		s.rf, s.rseq = f, seg.seq
	}
	section := io.NewSectionReader(s.rf, s.rpos.off, seg.size-s.rpos.off)
	if s.br == nil {
		s.br = bufio.NewReaderSize(section, 64<<10)
	} else {
		s.br.Reset(section)
	}
	return nil
}

func (s *spool) closeReader() {
	if s.rf != nil {
		_ = s.rf.Close()
		s.rf = nil
	}
}

// commit acknowledges everything before pos: segments wholly before it are deleted, and
// once everything is acknowledged the spool is emptied and the next append starts afresh.
func (s *spool) commit(pos spoolPos) error {
	var errs []error
	for len(s.segs) > 0 {
		first := s.segs[0]
		if first.seq > pos.seq || (first.seq == pos.seq && pos.off < first.size) {
			break
		}
		if len(s.segs) == 1 {
			errs = append(errs, s.closeWriter())
		}
		if s.rseq == first.seq {
			s.closeReader()
		}
		if err := os.Remove(s.segmentPath(first.seq)); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("emitter: spool delete: %w", err))
		}
		s.total -= first.size
		s.segs = s.segs[1:]
	}
	switch {
	case len(s.segs) == 0:
		s.total = 0
		s.rpos = spoolPos{}
		s.dirty = false
	case s.rpos.seq < s.segs[0].seq:
		// The read position was at the end of a segment just deleted.
		s.rpos = spoolPos{seq: s.segs[0].seq}
	}
	return errors.Join(errs...)
}

// close syncs the write segment and releases the spool; segments stay for the next open.
func (s *spool) close() error {
	err := s.closeWriter()
	s.closeReader()
	return errors.Join(err, s.unlock())
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("emitter: spool dir sync: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("emitter: spool dir sync: %w", err)
	}
	return nil
}
