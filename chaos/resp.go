package chaos

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// The protocol proxy's codec: just enough RESP (2 and 3) to find where one
// command or one reply ends in a byte stream, and to read a command's name
// and keys. The proxy forwards the bytes it read unchanged; it never decodes
// a reply into values and re-encodes it, so what the client receives when no
// fault fires is what Redis sent, byte for byte. docs/faults.md says why
// this is written here rather than taken from a library.

// maxFrame bounds one bulk string or aggregate's length the codec accepts
// (Redis's proto-max-bulk-len default is 512 MB): a larger length is a
// corrupt stream, not a value.
const maxFrame = 512 << 20

// errProtocol marks a byte stream that is not RESP.
var errProtocol = errors.New("chaos: not RESP")

// readLine reads one CRLF-terminated line and appends it (CRLF included)
// to buf.
func readLine(r *bufio.Reader, buf []byte) ([]byte, []byte, error) {
	start := len(buf)
	for {
		frag, err := r.ReadSlice('\n')
		buf = append(buf, frag...)
		if err == nil {
			break
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			return buf, nil, err
		}
	}
	line := buf[start:]
	if len(line) < 2 || line[len(line)-2] != '\r' {
		return buf, nil, fmt.Errorf("%w: line without CRLF", errProtocol)
	}
	return buf, line[:len(line)-2], nil
}

// frameLen parses the length or count after a type byte; -1 is RESP2's
// null bulk string or array.
func frameLen(line []byte) (int, error) {
	n, err := strconv.Atoi(string(line[1:]))
	if err != nil || n < -1 || n > maxFrame {
		return 0, fmt.Errorf("%w: bad length %q", errProtocol, line)
	}
	return n, nil
}

// readFrame reads one complete RESP value (a reply, or a command sent as
// an array) and appends its bytes to buf. An attribute (RESP3 '|') is read
// with the value it annotates, as one frame.
func readFrame(r *bufio.Reader, buf []byte) ([]byte, error) {
	var line []byte
	var err error
	buf, line, err = readLine(r, buf)
	if err != nil {
		return buf, err
	}
	if len(line) == 0 {
		return buf, fmt.Errorf("%w: empty line", errProtocol)
	}
	switch line[0] {
	case '+', '-', ':', '_', '#', ',', '(':
		return buf, nil
	case '$', '!', '=':
		n, err := frameLen(line)
		if err != nil || n < 0 {
			return buf, err
		}
		return readN(r, buf, n+2)
	case '*', '~', '>', '%', '|':
		n, err := frameLen(line)
		if err != nil || n < 0 {
			return buf, err
		}
		if line[0] == '%' || line[0] == '|' {
			n *= 2
		}
		if line[0] == '|' {
			n++ // the annotated value follows the attribute's pairs
		}
		for i := 0; i < n; i++ {
			if buf, err = readFrame(r, buf); err != nil {
				return buf, err
			}
		}
		return buf, nil
	}
	return buf, fmt.Errorf("%w: type byte %q", errProtocol, line[0])
}

// readN appends exactly n bytes from r to buf.
func readN(r *bufio.Reader, buf []byte, n int) ([]byte, error) {
	start := len(buf)
	buf = append(buf, make([]byte, n)...)
	_, err := io.ReadFull(r, buf[start:])
	return buf, err
}

// command is one command as the client sent it: its bytes and its
// arguments (the name first), which alias the bytes.
type command struct {
	raw  []byte
	args [][]byte
}

// name is the command's name in upper case ("" for an empty command).
func (c *command) name() string {
	if len(c.args) == 0 {
		return ""
	}
	return string(bytes.ToUpper(c.args[0]))
}

// readCommand reads one command: an array of bulk strings, as every client
// library sends, or an inline command (a line of words, as typed into
// telnet).
func readCommand(r *bufio.Reader) (*command, error) {
	first, err := r.Peek(1)
	if err != nil {
		return nil, err
	}
	c := &command{}
	if first[0] != '*' {
		var line []byte
		c.raw, line, err = readLine(r, nil)
		if err != nil {
			return nil, err
		}
		c.args = bytes.Fields(line)
		return c, nil
	}
	var line []byte
	if c.raw, line, err = readLine(r, nil); err != nil {
		return nil, err
	}
	n, err := frameLen(line)
	if err != nil {
		return nil, err
	}
	type span struct{ from, to int }
	spans := make([]span, 0, max(n, 0))
	for i := 0; i < n; i++ {
		if c.raw, line, err = readLine(r, c.raw); err != nil {
			return nil, err
		}
		if len(line) == 0 || line[0] != '$' {
			return nil, fmt.Errorf("%w: command argument is not a bulk string", errProtocol)
		}
		l, err := frameLen(line)
		if err != nil || l < 0 {
			return nil, fmt.Errorf("%w: command argument of length %d", errProtocol, l)
		}
		from := len(c.raw)
		if c.raw, err = readN(r, c.raw, l+2); err != nil {
			return nil, err
		}
		spans = append(spans, span{from, from + l})
	}
	// c.raw may have moved while it grew: take the arguments at the end.
	c.args = make([][]byte, len(spans))
	for i, s := range spans {
		c.args[i] = c.raw[s.from:s.to]
	}
	return c, nil
}

// firstKey is the command's first key, for the hash slot of a redirect: the
// first argument after the name for the commands a cache sends (GET, SET,
// DEL, MGET, EXPIRE, ...), the first key after numkeys for EVAL, EVALSHA
// and FCALL. nil when the command takes no key.
func (c *command) firstKey() []byte {
	switch c.name() {
	case "EVAL", "EVALSHA", "EVAL_RO", "EVALSHA_RO", "FCALL", "FCALL_RO":
		if len(c.args) < 4 {
			return nil
		}
		if n, err := strconv.Atoi(string(c.args[2])); err != nil || n < 1 {
			return nil
		}
		return c.args[3]
	case "PING", "ECHO", "INFO", "HELLO", "AUTH", "SELECT", "CLIENT", "CLUSTER", "COMMAND",
		"CONFIG", "SCRIPT", "FUNCTION", "PUBLISH", "SUBSCRIBE", "PSUBSCRIBE", "UNSUBSCRIBE",
		"PUNSUBSCRIBE", "QUIT", "RESET", "READONLY", "READWRITE", "ASKING", "MULTI", "EXEC",
		"DISCARD", "WATCH", "UNWATCH", "DBSIZE", "FLUSHDB", "FLUSHALL", "TIME", "ROLE", "SCAN":
		return nil
	}
	if len(c.args) < 2 {
		return nil
	}
	return c.args[1]
}

// hashSlot is Redis Cluster's slot of key: CRC16 (XMODEM) of the key, or
// of its hash tag (the part between the first '{' and the next '}' when
// not empty), modulo 16384.
func hashSlot(key []byte) int {
	if s := bytes.IndexByte(key, '{'); s >= 0 {
		if e := bytes.IndexByte(key[s+1:], '}'); e > 0 {
			key = key[s+1 : s+1+e]
		}
	}
	var crc uint16
	for _, b := range key {
		crc ^= uint16(b) << 8
		for i := 0; i < 8; i++ {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return int(crc) % 16384
}
