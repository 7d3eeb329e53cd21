package gateway

import (
	"bytes"
	"math"
	"sync"
	"sync/atomic"

	"golang.org/x/net/http/httpguts"
)

// A framingScanner follows the HTTP/1.x requests in the bytes a client
// connection reads, as net/http's server frames them, to answer one
// question net/http hides from handlers: did the chunked request being
// served also carry Content-Length? Go's server reads such a request as
// chunked and deletes its Content-Length before any handler runs (RFC
// 9112 §6.1 allows that, but the request is a smuggling attempt: a
// Content-Length reader in front of the gateway took a different part of
// the stream for its body), so the gateway reads the framing itself.
//
// The scanner sees every byte the server reads, in order, once (the
// connection's Read feeds it) and keeps O(1) state: no head is buffered,
// only the first bytes of the current line (enough to recognise a field
// name) and the last bytes of the request line (its HTTP version). Per
// request it finds the head (lines up to the first empty one; CR LF or a
// bare LF ends a line, as in net/textproto; lines that start with a space
// or a tab continue the previous field and name nothing), notes whether
// it has a Content-Length and a Transfer-Encoding field (the exact name,
// in any case, followed by ':'; Go refuses a space before the colon),
// skips a Content-Length body by count, and goes on with the next head.
// It stops for good at:
//
//   - an HTTP/1.1 head with Transfer-Encoding: Go either refuses it (501, not one "chunked") and closes,
//     or reads a chunked body the scanner does not follow; the gateway
//     then closes the connection after answering;
//   - an HTTP/1.0 head with Transfer-Encoding, which Go frames by
//     Content-Length (or as having no body) while a server in front may
//     have read it chunked: h1Conn closes the connection after answering
//     it (RFC 9112 §6.1), so no head after it is read;
//   - a Content-Length Go cannot parse (empty, not digits, over 2^63-1):
//     Go refuses the request with 400 and closes.
//
// Leading CR and LF bytes before a request line are skipped (Go skips up
// to four after a POST, and refuses a request line that starts with
// others). Where a head is malformed the scanner is lenient and may go
// wrong, but Go refuses that head and closes the connection, so no later
// request follows it. It matches Go exactly on every head Go accepts.
//
// # Why a misaligned scanner fails safe
//
// Should the scanner ever disagree with Go about where a head starts
// (a Go change, a case missed here), the handler asks it about the wrong
// head, and either way the outcome is safe:
//   - a false "yes" refuses a chunked request with 400: the sender's own
//     request on its own connection, nobody else's;
//   - a false "no" forwards the chunked request and closes the
//     connection after it, which is what the gateway did before it had a
//     scanner, and what it still does for every chunked request: nothing
//     after the body is read as a request.
//
// Its methods are not safe for concurrent use, except Verdict: net/http
// reads a connection from one goroutine at a time.
type framingScanner struct {
	state scanState
	// verdict is set once, when the scanner stops (verdictCLTE,
	// verdictTE, verdictTE10, verdictInvalid); handlers read it from
	// other goroutines.
	verdict atomic.Uint32

	// heads counts the heads scanned; odd notes those without a Host
	// field or whose first one's value is not valid (net/http refuses
	// both, and http.ReadRequest, which the gateway's h1Server reads
	// with, deletes the field: hostFields answers for it; ReadRequest
	// refuses two Host fields itself).
	heads  atomic.Uint64
	oddMu  sync.Mutex
	odd    []oddHead
	oddCut bool // more odd heads than odd holds: answer "unknown"

	bodyLeft int64 // Content-Length body bytes still to skip (scanBody)
	headState
}

// headState is what a framingScanner knows about the current head.
type headState struct {
	// The current line.
	line   lineKind
	prefix [len(nameTransferEncoding)]byte // its first bytes (field lines)
	np     int
	tail   [len(http10Suffix) + 1]byte // the request line's last bytes
	nt     int

	http10 bool // the request line ends in HTTP/1.0
	sawCL  bool // a Content-Length field
	sawTE  bool // a Transfer-Encoding field
	host   bool // a Host field
	// The first Host field's value, checked byte by byte as
	// httpguts.ValidHostHeader checks it after Go trims its blanks.
	lastHost bool  // the last field line was that Host field
	hostSeen bool  // a byte of the value, not a blank
	hostWS   bool  // a blank after one
	hostBad  bool  // a byte Go's check refuses
	badCL    bool  // a Content-Length Go refuses
	lastCL   bool  // the last field line was Content-Length (for continuations)
	clState  uint8 // the value being read: clEmpty, clDigits, clAfter, clBad
	clValue  int64
}

type scanState uint8

const (
	scanHeadStart scanState = iota // before a request line: CR and LF are skipped
	scanHead                       // in a head, state in line
	scanBody                       // skipping bodyLeft bytes
	scanStopped                    // for good; see verdict
)

type lineKind uint8

const (
	lineRequest lineKind = iota // the request line
	lineField                   // a field line, its name not yet known
	lineCL                      // Content-Length's value (or its continuation)
	lineHost                    // the first Host field's value (or its continuation)
	lineOther                   // anything else, skipped up to LF
)

// The states of a Content-Length value, read byte by byte as Go reads
// it: optional blanks, digits, optional blanks.
const (
	clEmpty uint8 = iota
	clDigits
	clAfter
	clBad
)

// An oddHead is a head with no Host field, or whose first one's value
// Go refuses.
type oddHead struct {
	head uint64 // its index among the connection's heads, from 0
	host bool   // it has a Host field
	bad  bool   // the first Host field's value is not a valid Host
}

// maxOddHeads bounds the odd heads noted per connection; the first one
// already ends it (a 400), so more come only from a pipelining client.
const maxOddHeads = 8

// hostFields returns whether the connection's head number i (from 0)
// has a Host field, whether the first one's value is one
// httpguts.ValidHostHeader refuses, and whether the scanner knows: not
// when it stopped before that head (after a chunked request), or noted
// more odd heads than it keeps.
func (s *framingScanner) hostFields(i uint64) (host, bad, known bool) {
	if i >= s.heads.Load() {
		return false, false, false
	}
	s.oddMu.Lock()
	defer s.oddMu.Unlock()
	for _, o := range s.odd {
		if o.head == i {
			return o.host, o.bad, true
		}
	}
	if s.oddCut {
		return false, false, false
	}
	return true, false, true
}

// Verdicts of a stopped scanner.
const (
	verdictScanning uint32 = iota // not stopped
	verdictTE                     // stopped at an HTTP/1.1 head with Transfer-Encoding
	verdictCLTE                   // the same, with Content-Length too
	verdictInvalid                // stopped at a head Go refuses (Content-Length)
	verdictTE10                   // stopped at an HTTP/1.0 head with Transfer-Encoding
)

const (
	nameContentLength    = "content-length:"
	nameTransferEncoding = "transfer-encoding:"
	nameHost             = "host:"
	http10Suffix         = " HTTP/1.0"
)

// Verdict is the scanner's verdict: verdictScanning until it stopped.
func (s *framingScanner) Verdict() uint32 { return s.verdict.Load() }

// http10TE reports whether the connection's head number i (from 0) is
// an HTTP/1.0 head with Transfer-Encoding: the one the scanner stopped
// at (it stops at the first).
func (s *framingScanner) http10TE(i uint64) bool {
	return s.Verdict() == verdictTE10 && s.heads.Load() == i+1
}

// Scan feeds the scanner the next bytes the connection read.
func (s *framingScanner) Scan(p []byte) {
	for len(p) > 0 {
		switch s.state {
		case scanStopped:
			return
		case scanBody:
			n := int64(len(p))
			if n >= s.bodyLeft {
				n = s.bodyLeft
				s.state = scanHeadStart
			}
			s.bodyLeft -= n
			p = p[n:]
		case scanHeadStart:
			if p[0] == '\r' || p[0] == '\n' {
				p = p[1:]
				continue
			}
			s.state, s.headState = scanHead, headState{line: lineRequest}
		case scanHead:
			i := bytes.IndexByte(p, '\n')
			if i < 0 {
				s.feed(p)
				return
			}
			s.feed(p[:i])
			p = p[i+1:]
			s.endLine()
		}
	}
}

// feed takes the next bytes of the current line (no LF among them).
func (s *framingScanner) feed(b []byte) {
	if len(b) == 0 {
		return
	}
	switch s.line {
	case lineRequest:
		s.keepTail(b)
	case lineField:
		if s.np == 0 && (b[0] == ' ' || b[0] == '\t') {
			// A continuation (obs-fold): Go appends it, after a space,
			// to the previous field's value.
			s.line = lineOther
			switch {
			case s.lastCL:
				s.line = lineCL
				s.value(b)
			case s.lastHost:
				// Go joins the lines with a space, which stays in the
				// value unless nothing came before it.
				s.line, s.hostWS = lineHost, false
				if s.hostSeen {
					s.hostBad = true
				}
				s.hostValue(b)
			}
			return
		}
		if s.np == 0 && b[0] != '\r' && b[0]|0x20 != 'c' && b[0]|0x20 != 't' && b[0]|0x20 != 'h' {
			// Neither name nor the empty line: the common case, decided
			// by the first byte.
			s.endValue()
			s.line, s.lastCL, s.lastHost = lineOther, false, false
			return
		}
		n := copy(s.prefix[s.np:], b)
		s.np += n
		if s.np == len(s.prefix) {
			s.field()
			switch s.line {
			case lineCL:
				s.value(b[n:])
			case lineHost:
				s.hostValue(b[n:])
			}
		}
	case lineCL:
		s.value(b)
	case lineHost:
		s.hostValue(b)
	}
}

// endLine ends the current line.
func (s *framingScanner) endLine() {
	switch s.line {
	case lineRequest:
		t := s.tail[:s.nt]
		t = bytes.TrimSuffix(t, []byte{'\r'})
		s.http10 = bytes.HasSuffix(t, []byte(http10Suffix))
	case lineField:
		if s.np == 0 || s.np == 1 && s.prefix[0] == '\r' {
			s.endHead()
			return
		}
		s.field() // a short line
	}
	if s.line == lineCL && s.clState == clDigits {
		s.clState = clAfter // Go joins a continuation with a space
	}
	s.line = lineField
	s.np = 0
}

// field names the field line whose first bytes are in prefix, and starts
// reading its value when it is Content-Length.
func (s *framingScanner) field() {
	// The previous field has ended, unless this line continues it, which
	// feed tells before calling field.
	s.endValue()
	p := s.prefix[:s.np]
	s.line, s.lastCL, s.lastHost = lineOther, false, false
	switch {
	case hasPrefixFold(p, nameTransferEncoding):
		s.sawTE = true
	case hasPrefixFold(p, nameHost):
		if !s.host {
			s.host = true
			s.line, s.lastHost = lineHost, true
			s.hostValue(p[len(nameHost):])
		}
	case hasPrefixFold(p, nameContentLength):
		s.sawCL, s.lastCL = true, true
		s.line = lineCL
		s.clState, s.clValue = clEmpty, 0
		s.value(p[len(nameContentLength):])
	}
}

// hostValue reads bytes of the first Host field's value.
func (s *framingScanner) hostValue(b []byte) {
	for _, c := range b {
		switch {
		case c == ' ' || c == '\t' || c == '\r':
			// Trimmed at the ends; inside, refused (and a continuation
			// is joined with a space).
			s.hostWS = s.hostSeen
		case s.hostWS || !validHostByte[c]:
			s.hostBad, s.hostSeen = true, true
		default:
			s.hostSeen = true
		}
	}
}

// validHostByte is httpguts.ValidHostHeader's byte set.
var validHostByte = func() (t [256]bool) {
	for c := range t {
		t[c] = httpguts.ValidHostHeader(string(rune(c))) && c < 0x80
	}
	return t
}()

// endValue checks the value of a Content-Length field that has ended.
func (s *framingScanner) endValue() {
	if s.lastCL && s.clState != clDigits && s.clState != clAfter {
		s.badCL = true // empty, or not a number Go reads
	}
}

// value reads bytes of a Content-Length value as strconv.ParseUint(v, 10,
// 63) does after Go trims blanks from both ends (and CR: lenient, see
// framingScanner). Go refuses two Content-Lengths that differ, so the
// last one is the one.
func (s *framingScanner) value(b []byte) {
	for _, c := range b {
		switch {
		case s.clState == clBad:
			return
		case c == ' ' || c == '\t' || c == '\r':
			if s.clState == clDigits {
				s.clState = clAfter
			}
		case '0' <= c && c <= '9' && s.clState != clAfter:
			d := int64(c - '0')
			if s.clValue > (math.MaxInt64-d)/10 {
				s.clState = clBad
				return
			}
			s.clValue = s.clValue*10 + d
			s.clState = clDigits
		default:
			s.clState = clBad
		}
	}
}

// endHead ends a head at its empty line: the scanner stops, skips the
// body or expects the next request line.
func (s *framingScanner) endHead() {
	s.endValue()
	if !s.host || s.hostBad {
		s.oddMu.Lock()
		if len(s.odd) < maxOddHeads {
			s.odd = append(s.odd, oddHead{head: s.heads.Load(), host: s.host, bad: s.hostBad})
		} else {
			s.oddCut = true
		}
		s.oddMu.Unlock()
	}
	s.heads.Add(1)
	switch {
	case s.badCL:
		s.stop(verdictInvalid)
	case s.sawTE && !s.http10:
		if s.sawCL {
			s.stop(verdictCLTE)
		} else {
			s.stop(verdictTE)
		}
	case s.sawTE:
		s.stop(verdictTE10)
	case s.sawCL && s.clValue > 0:
		s.state, s.bodyLeft = scanBody, s.clValue
	default:
		s.state = scanHeadStart
	}
}

func (s *framingScanner) stop(v uint32) {
	s.state = scanStopped
	s.verdict.Store(v)
}

// keepTail keeps the last len(tail) bytes of the request line.
func (s *framingScanner) keepTail(b []byte) {
	if len(b) >= len(s.tail) {
		s.nt = copy(s.tail[:], b[len(b)-len(s.tail):])
		return
	}
	keep := min(s.nt, len(s.tail)-len(b))
	copy(s.tail[:], s.tail[s.nt-keep:s.nt])
	s.nt = keep + copy(s.tail[keep:], b)
}

// hasPrefixFold reports whether p starts with lower, ASCII letters
// compared without case (only letters: Go's header names are tokens).
func hasPrefixFold(p []byte, lower string) bool {
	if len(p) < len(lower) {
		return false
	}
	for i := 0; i < len(lower); i++ {
		c := p[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}
