package report_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cacheproof/cacheproof/report"
	"github.com/cacheproof/cacheproof/report/reporttest"
	"github.com/cacheproof/cacheproof/result"
)

// TestHTMLInRealBrowser opens report.html in headless Chromium: every
// section is present, no script error occurs, no request leaves the file,
// and a screenshot is saved as a test artifact (go test -artifacts
// -outputdir DIR keeps it).
func TestHTMLInRealBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a browser")
	}
	if _, err := reporttest.FindChromium(); err != nil {
		t.Skipf("SKIP: %v; CI installs chromium so this test runs there", err)
	}
	for _, c := range []struct {
		name, shot string
		r          *result.Result
		sections   []string
	}{
		{"single run", "report-screenshot.png", fixture(t), htmlSections},
		// A repeated run with an inconclusive target: the spread strips
		// and the Runs section render too.
		{"repeated run", "report-repeat-screenshot.png", repeatFixture(t), append([]string{"runs"}, htmlSections...)},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			if _, err := report.WriteAll(c.r, report.Outputs{Dir: dir}); err != nil {
				t.Fatal(err)
			}
			// go test -artifacts keeps it (under -outputdir); otherwise a temp dir.
			shot := filepath.Join(t.ArtifactDir(), c.shot)
			res, err := reporttest.CheckInBrowser(context.Background(), filepath.Join(dir, "report.html"), shot)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("screenshot: %s (%d bytes)", shot, res.ScreenshotBytes)
			got := strings.Join(res.Sections, " ")
			for _, s := range c.sections {
				if !strings.Contains(" "+got+" ", " "+s+" ") {
					t.Errorf("section %s not in the rendered DOM (have %s)", s, got)
				}
			}
			if len(res.ScriptErrors) > 0 {
				t.Errorf("script errors: %v", res.ScriptErrors)
			}
			if len(res.NetworkRequests) > 0 {
				t.Errorf("report.html made network requests: %v", res.NetworkRequests)
			}
			if !strings.Contains(res.Title, "restart-under-load: "+strings.ToUpper(c.r.Verdict)) || res.ScreenshotBytes < 10_000 {
				t.Errorf("title %q, screenshot %d bytes", res.Title, res.ScreenshotBytes)
			}
		})
	}
}

// TestBrowserCheckCatchesProblems proves the browser check is not blind: a
// page with a throwing script and a remote image is reported.
func TestBrowserCheckCatchesProblems(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a browser")
	}
	if _, err := reporttest.FindChromium(); errors.Is(err, reporttest.ErrNoBrowser) {
		t.Skipf("SKIP: %v", err)
	}
	page := filepath.Join(t.TempDir(), "bad.html")
	os.WriteFile(page, []byte(`<!DOCTYPE html><html><head><title>bad</title></head><body>
<section data-section="x">x</section><img src="http://127.0.0.1:9/pixel.png">
<script>throw new Error("boom")</script></body></html>`), 0o644)
	res, err := reporttest.CheckInBrowser(context.Background(), page, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(res.ScriptErrors) == 0 || !strings.Contains(strings.Join(res.ScriptErrors, " "), "boom") {
		t.Errorf("thrown error not seen: %v", res.ScriptErrors)
	}
	if len(res.NetworkRequests) == 0 || !strings.Contains(res.NetworkRequests[0], "127.0.0.1:9") {
		t.Errorf("remote image not seen: %v", res.NetworkRequests)
	}
	if len(res.Sections) != 1 || res.Sections[0] != "x" {
		t.Errorf("sections %v", res.Sections)
	}
}
