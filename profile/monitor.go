package profile

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"
)

// MonitorWarning is printed before --observe starts: MONITOR copies every
// command the server runs to this client, which costs the server CPU and
// output buffer for as long as it lasts.
const MonitorWarning = "--observe uses MONITOR: the server copies every command it runs to the profiler for the observation's length; " +
	"on a busy server this can cost a large share of its throughput (Redis's documentation measured about half with one monitor). " +
	"It stops after the duration or the line cap, whichever comes first."

// Access is one key access seen by MONITOR: the key, whether the command
// wrote or deleted it, whether it was a script's call (a script that only reads
// counts as a read, see scriptCall), the client that sent it and when.
type Access struct {
	Key   string
	Write bool
	// Delete marks a DEL or UNLINK (Write is set too): an invalidation,
	// after which the key is absent, not rewritten.
	Delete bool
	Script bool
	Client string
	At     float64
}

// observe runs MONITOR on one node for d or until maxLines lines, and
// hands each key access to fn. It dials its own connection (MONITOR takes
// it over) and sends only AUTH, SELECT and MONITOR, each held to the
// allow-list like every other command.
func observe(ctx context.Context, n *node, d time.Duration, maxLines int, fn func(Access)) (lines int, err error) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	o := n.opts
	dialer := &net.Dialer{Timeout: o.DialTimeout}
	var conn net.Conn
	if o.TLSConfig != nil {
		conn, err = tls.DialWithDialer(dialer, "tcp", n.addr, o.TLSConfig)
	} else {
		conn, err = dialer.DialContext(ctx, "tcp", n.addr)
	}
	if err != nil {
		return 0, fmt.Errorf("MONITOR: dial %s: %w", n.addr, err)
	}
	var once sync.Once
	closeConn := func() { once.Do(func() { conn.Close() }) }
	defer closeConn()
	go func() { <-ctx.Done(); closeConn() }()
	rd := bufio.NewReaderSize(conn, 64<<10)
	send := func(args ...string) error {
		anyArgs := make([]any, len(args))
		for i, a := range args {
			anyArgs[i] = a
		}
		if err := checkCommand(anyArgs); err != nil {
			return err
		}
		var b strings.Builder
		fmt.Fprintf(&b, "*%d\r\n", len(args))
		for _, a := range args {
			fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
		}
		if _, err := conn.Write([]byte(b.String())); err != nil {
			return err
		}
		line, err := rd.ReadString('\n')
		if err != nil {
			return err
		}
		if strings.HasPrefix(line, "-") {
			return fmt.Errorf("%s: %s", strings.ToUpper(args[0]), strings.TrimSpace(line[1:]))
		}
		return nil
	}
	switch {
	case o.Username != "" && o.Password != "":
		err = send("auth", o.Username, o.Password)
	case o.Password != "":
		err = send("auth", o.Password)
	}
	if err == nil && o.DB != 0 {
		err = send("select", strconv.Itoa(o.DB))
	}
	if err == nil {
		err = send("monitor")
	}
	if err != nil {
		return 0, fmt.Errorf("MONITOR on %s: %w", n.addr, err)
	}
	var sc scriptCall
	defer func() { sc.flush(fn) }()
	for lines < maxLines {
		line, err := rd.ReadString('\n')
		if err != nil {
			if ctx.Err() != nil {
				return lines, nil
			}
			return lines, fmt.Errorf("MONITOR on %s: %w", n.addr, err)
		}
		lines++
		if !strings.HasPrefix(line, "+") {
			continue
		}
		at, client, args := monitorLine(line)
		if len(args) == 0 {
			continue
		}
		cmd := strings.ToLower(args[0])
		kind := commandKind(cmd)
		if strings.HasSuffix(client, "lua") {
			// A script's own commands follow its call (a script runs
			// alone): they say whether it read or wrote.
			if !ttlCmds[cmd] {
				sc.reads = sc.reads || kind == kindRead
				sc.writes = sc.writes || kind == kindWrite
			}
			continue
		}
		sc.flush(fn)
		script := isScript(cmd)
		if kind == kindOther && !script || ttlCmds[cmd] {
			continue
		}
		for _, k := range commandKeys(cmd, args[1:]) {
			a := Access{Key: k, Write: kind == kindWrite, Delete: deleteCmds[cmd], Script: script, Client: client, At: at}
			if script {
				sc.calls = append(sc.calls, a)
			} else {
				fn(a)
			}
		}
	}
	return lines, nil
}

// scriptCall is a script's call waiting for its own commands: a script
// that only reads (a get-and-extend: GET, then PEXPIRE) counts as a read
// of its keys, one that writes (a rate limit's INCR, a compare-and-swap's
// SET) or whose commands were not seen as a write.
type scriptCall struct {
	calls         []Access
	reads, writes bool
}

func (s *scriptCall) flush(fn func(Access)) {
	for _, a := range s.calls {
		a.Write = s.writes || !s.reads
		fn(a)
	}
	*s = scriptCall{}
}

func isScript(cmd string) bool {
	return cmd == "eval" || cmd == "evalsha" || cmd == "eval_ro" || cmd == "evalsha_ro" || cmd == "fcall" || cmd == "fcall_ro"
}

// commandKeys returns the keys a command names: every argument of MGET,
// DEL, EXISTS, UNLINK and TOUCH, every other of MSET, the declared keys
// of a script, else the first argument.
func commandKeys(cmd string, args []string) []string {
	switch cmd {
	case "mget", "del", "exists", "unlink", "touch":
		return args
	case "mset", "msetnx":
		var out []string
		for i := 0; i < len(args); i += 2 {
			out = append(out, args[i])
		}
		return out
	case "eval", "evalsha", "eval_ro", "evalsha_ro", "fcall", "fcall_ro":
		if len(args) < 2 {
			return nil
		}
		n, err := strconv.Atoi(args[1])
		if err != nil || n < 0 || 2+n > len(args) {
			return nil
		}
		return args[2 : 2+n]
	}
	if len(args) == 0 {
		return nil
	}
	return args[:1]
}

// monitorLine parses a MONITOR line ("+1700000000.123456 [0
// 127.0.0.1:5555] "GET" "key"") into its time, its client ("0
// 127.0.0.1:5555", or "0 lua" inside a script) and its command's
// arguments, unquoting Redis's escapes (\" \\ \n \r \t \xHH).
func monitorLine(line string) (at float64, client string, out []string) {
	line = strings.TrimPrefix(line, "+")
	ts, rest, _ := strings.Cut(line, " ")
	at, _ = strconv.ParseFloat(ts, 64)
	if !strings.HasPrefix(rest, "[") {
		return at, "", nil
	}
	i := strings.Index(rest, "] ")
	if i < 0 {
		return at, "", nil
	}
	client = rest[1:i]
	return at, client, unquoteArgs(strings.TrimRight(rest[i+2:], "\r\n"))
}

// unquoteArgs splits MONITOR's quoted arguments.
func unquoteArgs(s string) []string {
	var out []string
	for len(s) > 0 {
		if s[0] == ' ' {
			s = s[1:]
			continue
		}
		if s[0] != '"' {
			return out
		}
		var b strings.Builder
		j := 1
		for j < len(s) && s[j] != '"' {
			if s[j] == '\\' && j+1 < len(s) {
				switch s[j+1] {
				case 'n':
					b.WriteByte('\n')
				case 'r':
					b.WriteByte('\r')
				case 't':
					b.WriteByte('\t')
				case 'a':
					b.WriteByte('\a')
				case 'b':
					b.WriteByte('\b')
				case 'x':
					if j+3 < len(s) {
						if v, err := strconv.ParseUint(s[j+2:j+4], 16, 8); err == nil {
							b.WriteByte(byte(v))
							j += 4
							continue
						}
					}
					b.WriteByte('x')
				default:
					b.WriteByte(s[j+1])
				}
				j += 2
				continue
			}
			b.WriteByte(s[j])
			j++
		}
		out = append(out, b.String())
		if j >= len(s) {
			break
		}
		s = s[j+1:]
	}
	return out
}
