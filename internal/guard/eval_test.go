package guard

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// TestEvaluate runs the evaluation harness on the shared data sets.
// Run with SWITCHYARD_GUARD_EVAL=1 go test -run TestEvaluate -v ./internal/guard/
func TestEvaluate(t *testing.T) {
	if os.Getenv("SWITCHYARD_GUARD_EVAL") != "1" {
		t.Skip("set SWITCHYARD_GUARD_EVAL=1 to run the evaluation")
	}
	dir := os.Getenv("SWITCHYARD_DATA")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "shared", "data")
	}
	rows, err := Evaluate(context.Background(), dir, os.Stdout)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) == 0 {
		t.Fatal("no rows")
	}
}
