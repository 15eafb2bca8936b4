package leakcheck

import (
	"testing"
	"time"
)

func TestLeaked(t *testing.T) {
	started, stop, done := make(chan struct{}), make(chan struct{}), make(chan struct{})
	go func() {
		close(started)
		<-stop
		close(done)
	}()
	<-started
	const mark = "leakcheck.TestLeaked.func1"
	if err := Leaked(50*time.Millisecond, mark); err == nil {
		t.Fatal("a parked goroutine was not reported")
	}
	close(stop)
	<-done
	if err := Leaked(5*time.Second, mark); err != nil {
		t.Fatalf("after it ended: %v", err)
	}
}
