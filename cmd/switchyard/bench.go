package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"time"

	"switchyard/internal/bench"
)

func cmdBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "gateway" {
		fs := newFlags("bench", "bench gateway [flags]", `
Measure performance.

  gateway   start a fake upstream and the gateway in-process, drive load
            directly and through the gateway, and print RPS and latency
            percentiles of both and the difference.`, stdout)
		if err := parse(fs, args); err != nil {
			return err
		}
		fs.Usage()
		return errUsage
	}
	fs := newFlags("bench gateway", "bench gateway [--concurrency N] [--duration D] [--chunks N] [--mode M]", `
Start a fake OpenAI-compatible upstream and a gateway in front of it (both
in this process, on loopback TCP), then drive load at the given concurrency
for the given time: once straight at the upstream and once through the
gateway. Prints requests per second and latency p50/p90/p99 for both, and
the differences. Non-stream requests, and streams of --chunks chunks.`, stdout)
	conc := fs.String("concurrency", "1,50", "comma-separated concurrency levels")
	dur := fs.Duration("duration", 5*time.Second, "load duration per measurement")
	chunks := fs.Int("chunks", 100, "chunks per streamed answer")
	mode := fs.String("mode", "both", "nonstream, stream or both")
	streams := fs.Int("rss-streams", 200, "concurrent slow streams for the RSS measurement (0 to skip)")
	tenant := fs.Bool("tenant", false, "use a project key with rate limits, budgets and a prepaid balance (default: the admin key)")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file (for go tool pprof)")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	levels, err := bench.ParseLevels(*conc)
	if err != nil {
		return fmt.Errorf("--concurrency: %w", err)
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	return bench.Gateway(ctx, bench.Options{
		Concurrency: levels, Duration: *dur, Chunks: *chunks, Mode: *mode, RSSStreams: *streams, Tenant: *tenant, Out: stdout,
	})
}
