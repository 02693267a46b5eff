package gateway

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/actiongate/actiongate/internal/openapi"
)

// TestCorpusOffSiteOperations lists the real documents' operations whose own
// server is on another site (they are called without credentials): only Box's
// pre-signed downloads on dl.boxcloud.com.
func TestCorpusOffSiteOperations(t *testing.T) {
	root := corpusDir(t)
	files, _ := filepath.Glob(filepath.Join(root, "*", "*"))
	var off []string
	checked := 0
	for _, f := range files {
		if filepath.Base(f) == "manifest.json" || filepath.Ext(f) == ".md" {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		doc, err := openapi.Parse(b, "")
		if err != nil {
			continue // no usable server of its own; covered by openapi's corpus test
		}
		checked++
		for _, op := range doc.Operations {
			if offSite(doc, op) {
				off = append(off, filepath.Base(f)+" "+op.ID+" "+hostOf(op.ServerURL))
			}
		}
	}
	if checked < 20 {
		t.Fatalf("only %d documents checked", checked)
	}
	if len(off) != 1 || off[0] != "box__box-api.json get_zip_downloads_id_content dl.boxcloud.com" {
		t.Fatalf("off-site operations: %q", off)
	}
}

// corpusDir is the shared corpus of real documents: $ACTIONGATE_SPECS, else
// shared/specs beside the repository; the test skips without it.
func corpusDir(t testing.TB) string {
	if dir := os.Getenv("ACTIONGATE_SPECS"); dir != "" {
		return dir
	}
	root := filepath.Join("..", "..", "..", "shared", "specs")
	if _, err := os.Stat(filepath.Join(root, "public")); err != nil {
		t.Skipf("corpus not found at %s (set ACTIONGATE_SPECS)", root)
	}
	return root
}
