package scenarios

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoad feeds arbitrary bytes to the loader: it must return a scenario or
// an error, never panic, and every error must carry the file name.
func FuzzLoad(f *testing.F) {
	for _, dir := range []string{"testdata/good", "testdata/bad", "."} {
		files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
		for _, p := range files {
			if data, err := os.ReadFile(p); err == nil {
				f.Add(data)
			}
		}
	}
	f.Add([]byte("name: x\nphases: [{name: a, duration: 1s}]\nfaults: [{at: 0s, kind: restart}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := LoadBytes("fuzz.yaml", data)
		if err != nil {
			if !IsInvalid(err) {
				t.Fatalf("error of type %T is not a scenario error: %v", err, err)
			}
			return
		}
		if s.Name == "" || len(s.Phases) == 0 {
			t.Fatalf("accepted an incomplete scenario: %+v", s)
		}
	})
}
