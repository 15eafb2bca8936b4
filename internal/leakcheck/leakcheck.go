// Package leakcheck fails a test binary that leaves goroutines running:
// a package's TestMain calls Main with the code whose goroutines must all
// have ended once its tests are done.
package leakcheck

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// Main runs the tests and then fails the binary when a goroutine whose
// stack mentions any of marks is still running after up to 10 s (cleanups
// close connections that wind down asynchronously).
func Main(m *testing.M, marks ...string) {
	code := m.Run()
	if code == 0 {
		if err := Leaked(10*time.Second, marks...); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	os.Exit(code)
}

// Leaked waits up to wait for every goroutine whose stack mentions one of
// marks to end, and returns an error listing those that did not.
func Leaked(wait time.Duration, marks ...string) error {
	deadline := time.Now().Add(wait)
	for {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		var bad []string
		for _, g := range strings.Split(string(buf), "\n\n") {
			if strings.Contains(g, "leakcheck.Leaked") {
				continue // this goroutine
			}
			for _, m := range marks {
				if strings.Contains(g, m) {
					bad = append(bad, g)
					break
				}
			}
		}
		if len(bad) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d goroutines leaked:\n\n%s", len(bad), strings.Join(bad, "\n\n"))
		}
		runtime.Gosched()
	}
}
