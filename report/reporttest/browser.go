package reporttest

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// ErrNoBrowser is returned by CheckInBrowser when no Chromium is installed;
// tests skip on it and say so.
var ErrNoBrowser = errors.New("no chromium browser found (install Debian's chromium or set CACHEPROOF_CHROMIUM)")

// BrowserCheck is what a real browser saw when it opened a page.
type BrowserCheck struct {
	Sections        []string // data-section attributes present in the DOM
	ScriptErrors    []string // uncaught exceptions and console/log errors
	NetworkRequests []string // requests for anything but the page itself
	Title           string
	ScreenshotBytes int
}

// FindChromium returns the browser binary: $CACHEPROOF_CHROMIUM, then
// chromium, chromium-browser or google-chrome on PATH.
func FindChromium() (string, error) {
	if p := os.Getenv("CACHEPROOF_CHROMIUM"); p != "" {
		return p, nil
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", ErrNoBrowser
}

// CheckInBrowser opens the HTML file in headless Chromium, driven over the
// DevTools protocol on a pipe (--remote-debugging-pipe: no port, no
// WebSocket library), waits for the load event, records script errors and
// every network request, lists the page's sections and saves a full-page
// PNG screenshot to screenshot (when not empty).
func CheckInBrowser(ctx context.Context, htmlPath, screenshot string) (*BrowserCheck, error) {
	bin, err := FindChromium()
	if err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(htmlPath)
	if err != nil {
		return nil, err
	}
	profile, err := os.MkdirTemp("", "cacheproof-chromium-*")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(profile)

	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	toBrowserR, toBrowserW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	fromBrowserR, fromBrowserW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe",
		"--user-data-dir="+profile, "--no-first-run", "--no-default-browser-check", "--disable-extensions",
		"--disable-background-networking", "--disable-sync", "--disable-component-update", "--mute-audio", "about:blank")
	cmd.ExtraFiles = []*os.File{toBrowserR, fromBrowserW} // fd 3: commands in, fd 4: replies out
	var stderr strings.Builder
	cmd.Stderr = &limitedWriter{w: &stderr, n: 8192}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	toBrowserR.Close()
	fromBrowserW.Close()
	defer func() {
		toBrowserW.Close()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		fromBrowserR.Close()
	}()

	c := &cdp{w: toBrowserW, pending: map[int]chan cdpMsg{}, events: make(chan cdpMsg, 1024)}
	go c.read(fromBrowserR)

	var target struct{ TargetID string }
	if err := c.call(ctx, "", "Target.createTarget", map[string]any{"url": "about:blank"}, &target); err != nil {
		return nil, fmt.Errorf("%w (browser stderr: %s)", err, stderr.String())
	}
	var att struct{ SessionID string }
	if err := c.call(ctx, "", "Target.attachToTarget", map[string]any{"targetId": target.TargetID, "flatten": true}, &att); err != nil {
		return nil, err
	}
	s := att.SessionID
	for _, m := range []string{"Runtime.enable", "Log.enable", "Network.enable", "Page.enable"} {
		if err := c.call(ctx, s, m, nil, nil); err != nil {
			return nil, err
		}
	}
	if err := c.call(ctx, s, "Emulation.setDeviceMetricsOverride", map[string]any{"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": false}, nil); err != nil {
		return nil, err
	}
	pageURL := "file://" + abs
	if err := c.call(ctx, s, "Page.navigate", map[string]any{"url": pageURL}, nil); err != nil {
		return nil, err
	}
	res := &BrowserCheck{}
	loaded := false
	settle := time.NewTimer(time.Hour)
	for done := false; !done; {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for the page: %w", ctx.Err())
		case <-settle.C:
			done = true
		case ev := <-c.events:
			c.note(ev, pageURL, res)
			if ev.Method == "Page.loadEventFired" && !loaded {
				loaded = true
				settle.Reset(500 * time.Millisecond) // late errors and requests
			}
		}
	}
	var eval struct {
		Result struct{ Value string }
	}
	expr := `JSON.stringify({title: document.title, sections: Array.from(document.querySelectorAll("[data-section]")).map(e => e.dataset.section)})`
	if err := c.call(ctx, s, "Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true}, &eval); err != nil {
		return nil, err
	}
	var page struct {
		Title    string
		Sections []string
	}
	if err := json.Unmarshal([]byte(eval.Result.Value), &page); err != nil {
		return nil, fmt.Errorf("read page state: %w", err)
	}
	res.Title, res.Sections = page.Title, page.Sections
	if screenshot != "" {
		var shot struct{ Data string }
		if err := c.call(ctx, s, "Page.captureScreenshot", map[string]any{"format": "png", "captureBeyondViewport": true}, &shot); err != nil {
			return nil, err
		}
		png, err := base64.StdEncoding.DecodeString(shot.Data)
		if err != nil {
			return nil, fmt.Errorf("decode screenshot: %w", err)
		}
		if err := os.WriteFile(screenshot, png, 0o644); err != nil {
			return nil, err
		}
		res.ScreenshotBytes = len(png)
	}
	for len(c.events) > 0 {
		c.note(<-c.events, pageURL, res)
	}
	_ = c.call(ctx, "", "Browser.close", nil, nil)
	return res, nil
}

type cdpMsg struct {
	ID        int             `json:"id,omitempty"`
	Method    string          `json:"method,omitempty"`
	SessionID string          `json:"sessionId,omitempty"`
	Params    json.RawMessage `json:"params,omitempty"`
	Result    json.RawMessage `json:"result,omitempty"`
	Error     *struct {
		Message string `json:"message"`
	} `json:"error,omitempty"`
}

type cdp struct {
	w       io.Writer
	mu      sync.Mutex
	next    int
	pending map[int]chan cdpMsg
	events  chan cdpMsg
}

// read splits the browser's NUL-terminated JSON messages into replies and
// events.
func (c *cdp) read(r io.Reader) {
	br := bufio.NewReaderSize(r, 1<<20)
	for {
		raw, err := br.ReadBytes(0)
		if err != nil {
			c.mu.Lock()
			for id, ch := range c.pending {
				close(ch)
				delete(c.pending, id)
			}
			c.mu.Unlock()
			return
		}
		var m cdpMsg
		if json.Unmarshal(raw[:len(raw)-1], &m) != nil {
			continue
		}
		if m.ID != 0 {
			c.mu.Lock()
			ch := c.pending[m.ID]
			delete(c.pending, m.ID)
			c.mu.Unlock()
			if ch != nil {
				ch <- m
			}
			continue
		}
		select {
		case c.events <- m:
		default: // a flood of events must not block replies
		}
	}
}

func (c *cdp) call(ctx context.Context, session, method string, params any, out any) error {
	c.mu.Lock()
	c.next++
	id := c.next
	ch := make(chan cdpMsg, 1)
	c.pending[id] = ch
	c.mu.Unlock()
	msg := map[string]any{"id": id, "method": method}
	if params != nil {
		msg["params"] = params
	}
	if session != "" {
		msg["sessionId"] = session
	}
	b, err := json.Marshal(msg)
	if err != nil {
		return err
	}
	if _, err := c.w.Write(append(b, 0)); err != nil {
		return fmt.Errorf("cdp %s: %w", method, err)
	}
	select {
	case <-ctx.Done():
		return fmt.Errorf("cdp %s: %w", method, ctx.Err())
	case m, ok := <-ch:
		if !ok {
			return fmt.Errorf("cdp %s: browser closed the pipe", method)
		}
		if m.Error != nil {
			return fmt.Errorf("cdp %s: %s", method, m.Error.Message)
		}
		if out != nil {
			return json.Unmarshal(m.Result, out)
		}
		return nil
	}
}

// note records script errors and network requests from one event.
func (c *cdp) note(ev cdpMsg, pageURL string, res *BrowserCheck) {
	switch ev.Method {
	case "Runtime.exceptionThrown":
		var p struct {
			ExceptionDetails struct {
				Text      string
				Exception struct{ Description string }
			}
		}
		_ = json.Unmarshal(ev.Params, &p)
		res.ScriptErrors = append(res.ScriptErrors, strings.TrimSpace(p.ExceptionDetails.Text+" "+p.ExceptionDetails.Exception.Description))
	case "Runtime.consoleAPICalled":
		var p struct {
			Type string
			Args []struct{ Value any }
		}
		_ = json.Unmarshal(ev.Params, &p)
		if p.Type == "error" || p.Type == "assert" {
			res.ScriptErrors = append(res.ScriptErrors, fmt.Sprintf("console.%s %v", p.Type, p.Args))
		}
	case "Log.entryAdded":
		var p struct {
			Entry struct{ Level, Text, URL string }
		}
		_ = json.Unmarshal(ev.Params, &p)
		if p.Entry.Level == "error" {
			res.ScriptErrors = append(res.ScriptErrors, p.Entry.Text)
		}
	case "Network.requestWillBeSent":
		var p struct {
			Request struct{ URL string }
		}
		_ = json.Unmarshal(ev.Params, &p)
		if u := p.Request.URL; u != pageURL && !strings.HasPrefix(u, "data:") {
			res.NetworkRequests = append(res.NetworkRequests, u)
		}
	}
}

type limitedWriter struct {
	w io.Writer
	n int
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	if l.n > 0 {
		k := min(len(p), l.n)
		l.w.Write(p[:k])
		l.n -= k
	}
	return len(p), nil
}
