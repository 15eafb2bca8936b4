package specialist

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// TestAccuracySuite runs the public-dataset accuracy suite. It is slow, so
// it runs only with SWITCHYARD_ACCURACY=1 (optionally
// SWITCHYARD_ACCURACY_FILTER=banking and SWITCHYARD_DATA=/path/to/data).
func TestAccuracySuite(t *testing.T) {
	if os.Getenv("SWITCHYARD_ACCURACY") == "" {
		t.Skip("set SWITCHYARD_ACCURACY=1 to run the accuracy suite")
	}
	dir := os.Getenv("SWITCHYARD_DATA")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "shared", "data")
	}
	if _, err := RunAccuracySuite(context.Background(), dir, os.Getenv("SWITCHYARD_ACCURACY_FILTER"), os.Stdout); err != nil {
		t.Fatal(err)
	}
}
