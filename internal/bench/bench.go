// Package bench measures whole-system performance: `switchyard bench
// gateway` drives load at a fake upstream directly and through an
// in-process gateway and reports the difference.
package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"switchyard/internal/config"
	"switchyard/internal/fakeai"
	"switchyard/internal/server"
)

// Options configure the gateway benchmark.
type Options struct {
	Concurrency []int
	Duration    time.Duration
	Chunks      int
	Mode        string // nonstream, stream, both
	RSSStreams  int
	// Tenant sends the load with a project key that has rate limits, a
	// monthly budget and a prepaid balance, so auth, limits, reservations
	// and metering all run; otherwise with the admin key (metering only).
	Tenant bool
	// KeepBodies (with Tenant) also keeps every request's bodies in the
	// request log, to measure logging's cost.
	KeepBodies bool
	Out        io.Writer
}

// ParseLevels parses "1,50".
func ParseLevels(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("invalid level %q", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// Result is one load run.
type Result struct {
	Requests      int
	Errors        int
	RPS           float64
	P50, P90, P99 time.Duration
}

const benchKey = "sy-bench-admin-key-0123456789"

// Gateway runs the benchmark and prints a table to o.Out.
func Gateway(ctx context.Context, o Options) error {
	fakeai.Record = false
	up, err := fakeai.Start()
	if err != nil {
		return err
	}
	defer up.Close()
	dir, err := os.MkdirTemp("", "switchyard-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	yaml := fmt.Sprintf(`
server: {log_level: error}
data_dir: %s
models:
  - name: bench
    deployments:
      - provider: openai
        base_url: %s
        model: bench-upstream
        price: {input: 0.5, output: 1.5}
`, dir, up.URL)
	cfg, err := config.Parse("bench.yaml", []byte(yaml), func(string) (string, bool) { return "", false })
	if err != nil {
		return err
	}
	srv, err := server.New(ctx, server.Options{Config: cfg, AdminKey: benchKey})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	go srv.Serve(ln)
	defer srv.Shutdown(context.Background())
	gw := "http://" + ln.Addr().String() + "/v1"
	key, who := benchKey, "admin key: auth and metering"
	if o.Tenant {
		if key, err = tenantKey(ctx, "http://"+ln.Addr().String(), o.KeepBodies); err != nil {
			return err
		}
		who = "project key: auth, rate limits, budget and balance reservations, metering"
		if o.KeepBodies {
			who += ", request logs"
		}
	}

	w := o.Out
	fmt.Fprintf(w, "switchyard bench gateway: GOMAXPROCS=%d, %s per run, fake upstream and load generator in this process\n", runtime.GOMAXPROCS(0), o.Duration)
	fmt.Fprintf(w, "gateway requests use the %s\n\n", who)
	fmt.Fprintf(w, "%-10s %5s %-8s %10s %10s %10s %10s %7s\n", "mode", "conc", "target", "rps", "p50", "p90", "p99", "errors")
	modes := []string{"nonstream", "stream"}
	if o.Mode != "both" {
		modes = []string{o.Mode}
	}
	for _, mode := range modes {
		stream := mode == "stream"
		up.SetDefault(fakeai.Behavior{Chunks: o.Chunks})
		body := []byte(`{"model":"bench-upstream","messages":[{"role":"user","content":"Say hello."}],"stream":` + strconv.FormatBool(stream) + `}`)
		gbody := bytes.Replace(body, []byte(`"bench-upstream"`), []byte(`"bench"`), 1)
		for _, c := range o.Concurrency {
			// Warm both paths (connections, pools) before measuring.
			load(ctx, up.URL, key, body, c, 300*time.Millisecond)
			load(ctx, gw, key, gbody, c, 300*time.Millisecond)
			d := load(ctx, up.URL, key, body, c, o.Duration)
			g := load(ctx, gw, key, gbody, c, o.Duration)
			row(w, mode, c, "direct", d)
			row(w, mode, c, "gateway", g)
			fmt.Fprintf(w, "%-10s %5d %-8s %9.1f%% %10s %10s %10s\n", mode, c, "added",
				100*g.RPS/d.RPS, dur(g.P50-d.P50), dur(g.P90-d.P90), dur(g.P99-d.P99))
			if stream && o.Chunks > 0 {
				fmt.Fprintf(w, "%-10s %5d %-8s %10s per chunk (p50 added / %d chunks)\n", mode, c, "", dur((g.P50-d.P50)/time.Duration(o.Chunks)), o.Chunks)
			}
		}
	}
	if o.RSSStreams > 0 {
		rss, err := streamRSS(ctx, up, gw, o.RSSStreams)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "\npeak RSS with %d concurrent streams through the gateway: %.1f MiB (whole process: gateway, fake upstream and clients)\n", o.RSSStreams, float64(rss)/(1<<20))
	}
	return nil
}

func row(w io.Writer, mode string, c int, target string, r Result) {
	fmt.Fprintf(w, "%-10s %5d %-8s %10.0f %10s %10s %10s %7d\n", mode, c, target, r.RPS, dur(r.P50), dur(r.P90), dur(r.P99), r.Errors)
}

func dur(d time.Duration) string {
	if d < 0 {
		return "-" + dur(-d)
	}
	if d < time.Millisecond {
		return fmt.Sprintf("%dµs", d.Microseconds())
	}
	return fmt.Sprintf("%.2fms", float64(d)/1e6)
}

// load posts body to base+/chat/completions from c workers for d.
func load(ctx context.Context, base, key string, body []byte, c int, d time.Duration) Result {
	tr := &http.Transport{MaxIdleConns: c * 2, MaxIdleConnsPerHost: c * 2, DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	url := base + "/chat/completions"
	deadline := time.Now().Add(d)
	lats := make([][]time.Duration, c)
	errs := make([]int, c)
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < c; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			buf := make([]byte, 32<<10)
			for time.Now().Before(deadline) && ctx.Err() == nil {
				t0 := time.Now()
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer "+key)
				resp, err := client.Do(req)
				if err != nil {
					errs[i]++
					continue
				}
				for {
					if _, err := resp.Body.Read(buf); err != nil {
						break
					}
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					errs[i]++
					continue
				}
				lats[i] = append(lats[i], time.Since(t0))
			}
		}(i)
	}
	wg.Wait()
	elapsed := time.Since(start)
	var all []time.Duration
	r := Result{}
	for i := range lats {
		all = append(all, lats[i]...)
		r.Errors += errs[i]
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	r.Requests = len(all)
	r.RPS = float64(len(all)) / elapsed.Seconds()
	if n := len(all); n > 0 {
		r.P50, r.P90, r.P99 = all[n*50/100], all[min(n-1, n*90/100)], all[min(n-1, n*99/100)]
	}
	return r
}

// tenantKey creates, through the admin API, a prepaid organisation with a
// large balance, a project with limits and a budget, and a key with limits
// and a budget, none of which the benchmark reaches.
func tenantKey(ctx context.Context, base string, keepBodies bool) (string, error) {
	call := func(path string, in map[string]any) (map[string]any, error) {
		b, _ := json.Marshal(in)
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+path, bytes.NewReader(b))
		req.Header.Set("Authorization", "Bearer "+benchKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		var out map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusCreated {
			return nil, fmt.Errorf("bench setup %s: HTTP %d %v", path, resp.StatusCode, err)
		}
		return out, nil
	}
	org, err := call("/api/orgs", map[string]any{"name": "bench", "prepaid": true})
	if err != nil {
		return "", err
	}
	if _, err := call("/api/orgs/"+org["id"].(string)+"/topups", map[string]any{"amount_micros": int64(1e15)}); err != nil {
		return "", err
	}
	limits := map[string]any{"name": "bench", "rpm": int64(1e9), "tpm": int64(1e12), "concurrency": 100000, "monthly_budget_micros": int64(1e15)}
	proj, err := call("/api/orgs/"+org["id"].(string)+"/projects", map[string]any{
		"name": "bench", "rpm": limits["rpm"], "tpm": limits["tpm"], "concurrency": limits["concurrency"],
		"monthly_budget_micros": limits["monthly_budget_micros"], "keep_bodies": keepBodies})
	if err != nil {
		return "", err
	}
	k, err := call("/api/projects/"+proj["id"].(string)+"/keys", limits)
	if err != nil {
		return "", err
	}
	return k["key"].(string), nil
}

// streamRSS holds n slow streams open through the gateway and samples RSS.
func streamRSS(ctx context.Context, up *fakeai.Server, gw string, n int) (uint64, error) {
	up.SetDefault(fakeai.Behavior{Chunks: 40, ChunkDelay: 50 * time.Millisecond})
	body := []byte(`{"model":"bench","messages":[{"role":"user","content":"Say hello."}],"stream":true}`)
	tr := &http.Transport{MaxIdleConnsPerHost: n}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var peak uint64
	go func() {
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				if r := rss(); r > peak {
					peak = r
				}
			}
		}
	}()
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, gw+"/chat/completions", bytes.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+benchKey)
			resp, err := client.Do(req)
			if err != nil {
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}()
	}
	wg.Wait()
	close(stop)
	return peak, nil
}

// rss reads the resident set size from /proc (0 where unavailable).
func rss() uint64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseUint(f[1], 10, 64)
	return pages * uint64(os.Getpagesize())
}
