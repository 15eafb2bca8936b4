package ledger

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"switchyard/internal/db"
)

const crashEnv = "SWITCHYARD_LEDGER_CRASH_CHILD" // "dir|dbfile" in the child

// TestCrash kills, with SIGKILL, a child process that is adding records,
// then checks that Open replays the journal it left and that every record
// whose Add returned in the child is in the database.
func TestCrash(t *testing.T) {
	if spec := os.Getenv(crashEnv); spec != "" {
		crashChild(spec)
		return
	}
	if testing.Short() {
		t.Skip("re-executes the test binary")
	}
	dir, path := t.TempDir(), filepath.Join(t.TempDir(), "crash.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrash$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashEnv+"="+dir+"|"+path)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var acked []string
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		id, ok := strings.CutPrefix(sc.Text(), "added ")
		if !ok {
			continue
		}
		acked = append(acked, id)
		if len(acked) == 3000 {
			cmd.Process.Signal(syscall.SIGKILL)
		}
	}
	cmd.Wait()
	if len(acked) < 3000 {
		t.Fatalf("child acknowledged only %d records", len(acked))
	}
	segs, _ := listSegments(dir)
	t.Logf("child acknowledged %d records; left %d journal segments", len(acked), len(segs))

	ctx := context.Background()
	d, err := db.OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var before int
	d.QueryRow(`SELECT COUNT(*) FROM usage_records`).Scan(&before)
	w, err := Open(ctx, Options{DB: d, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	rows, err := d.Query(`SELECT request_id FROM usage_records`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		rows.Scan(&id)
		have[id] = true
	}
	rows.Close()
	t.Logf("%d rows committed by the child, %d after replay", before, len(have))
	missing := 0
	for _, id := range acked {
		if !have[id] {
			missing++
		}
	}
	if missing > 0 {
		t.Errorf("%d of %d acknowledged records missing after replay", missing, len(acked))
	}
}

// crashChild adds records forever, printing each id once Add returns.
func crashChild(spec string) {
	dir, path, _ := strings.Cut(spec, "|")
	ctx := context.Background()
	d, err := db.OpenSQLite(ctx, path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	w, err := Open(ctx, Options{DB: d, Dir: dir, BatchSize: 128, FlushEvery: 10 * time.Millisecond})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	for i := 0; ; i++ {
		r := Record{ID: fmt.Sprintf("crash-%07d", i), Time: t0, Model: "m", CostMicros: 1, Currency: "USD"}
		if err := w.Add(&r); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		fmt.Fprintf(os.Stdout, "added %s\n", r.ID)
	}
}
