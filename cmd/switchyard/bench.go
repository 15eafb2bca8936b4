package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"time"

	"switchyard/internal/bench"
	"switchyard/internal/engine"
)

func cmdBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "engine" {
		return cmdBenchEngine(ctx, args[1:], stdout)
	}
	if len(args) == 0 || args[0] != "gateway" {
		fs := newFlags("bench", "bench gateway|engine [flags]", `
Measure performance.

  gateway   start a fake upstream and the gateway in-process, drive load
            directly and through the gateway, and print RPS and latency
            percentiles of both and the difference.
  engine    load a GGUF model in-process and print prompt-processing and
            generation tokens/s, time to first token and peak RSS.`, stdout)
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
	keepBodies := fs.Bool("keep-bodies", false, "with --tenant: the project keeps request logs (measures logging)")
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
		Concurrency: levels, Duration: *dur, Chunks: *chunks, Mode: *mode, RSSStreams: *streams, Tenant: *tenant || *keepBodies, KeepBodies: *keepBodies, Out: stdout,
	})
}

func cmdBenchEngine(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlags("bench engine", "bench engine --model MODEL [--prompt N] [--gen N] [--threads N]", `
Load a GGUF model (a .gguf file or a name in DATA_DIR/models) and measure
the in-process engine as llama-bench does: --prompt fixed tokens processed
in batches, then --gen greedy decoding steps. Prints tokens per second of
both phases, the time to first token, and the peak resident set size.
Repeat with --reps for steadier figures (the best run is printed).`, stdout)
	modelArg := fs.String("model", "", "model: a .gguf file or a name in DATA_DIR/models")
	prompt := fs.Int("prompt", 128, "prompt tokens")
	gen := fs.Int("gen", 64, "generated tokens")
	threads := fs.Int("threads", 0, "compute threads (0: all cores)")
	reps := fs.Int("reps", 1, "repetitions")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the runs to `FILE`")
	dataDir := dataDirFlag(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if *modelArg == "" || fs.NArg() != 0 || *reps < 1 {
		fs.Usage()
		return errUsage
	}
	path, err := resolveModel(*dataDir, *modelArg)
	if err != nil {
		return err
	}
	m, err := engine.Load(path, engine.Options{Context: *prompt + *gen, Threads: *threads})
	if err != nil {
		return err
	}
	defer m.Close()
	info := m.Info()
	fmt.Fprintf(stdout, "model    %s (%s, %s params, %s, %s)\n", *modelArg, info.Arch, humanCount(info.Params), info.FileType, humanBytes(info.FileSize))
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	threadsN := *threads
	if threadsN <= 0 {
		threadsN = runtime.GOMAXPROCS(0)
	}
	var best engine.BenchResult
	var cpuPrompt, cpuGen float64 // best tokens per CPU-second × threads
	for i := range *reps {
		r, err := engine.Bench(ctx, m, *prompt, *gen)
		if err != nil {
			return err
		}
		if i == 0 || r.GenTPS+r.PromptTPS > best.GenTPS+best.PromptTPS {
			best = r
		}
		if r.PromptCPU > 0 {
			cpuPrompt = max(cpuPrompt, float64(r.PromptTokens*threadsN)/r.PromptCPU.Seconds())
		}
		if r.GenCPU > 0 {
			cpuGen = max(cpuGen, float64(r.GenTokens*threadsN)/r.GenCPU.Seconds())
		}
	}
	fmt.Fprintf(stdout, "threads  %d\n", threadsN)
	fmt.Fprintf(stdout, "prompt   %d tokens  %8.1f tok/s\n", best.PromptTokens, best.PromptTPS)
	fmt.Fprintf(stdout, "gen      %d tokens  %8.1f tok/s\n", best.GenTokens, best.GenTPS)
	if cpuPrompt > 0 {
		// Tokens per CPU-second times threads: the speed the run would have
		// had on idle cores, steadier than wall time on a shared machine.
		fmt.Fprintf(stdout, "cpu-norm prompt %.1f tok/s, gen %.1f tok/s (tokens per CPU-second × threads)\n", cpuPrompt, cpuGen)
	}
	fmt.Fprintf(stdout, "ttft     %s\n", best.TTFT.Round(10*time.Microsecond))
	fmt.Fprintf(stdout, "kv       %s\n", humanBytes(best.KVBytes))
	if peak := peakRSS(); peak > 0 {
		fmt.Fprintf(stdout, "peak rss %s\n", humanBytes(peak))
	} else if best.RSS > 0 {
		fmt.Fprintf(stdout, "rss      %s\n", humanBytes(best.RSS))
	}
	return nil
}

// peakRSS is the process's peak resident set size (VmHWM), or 0 where the
// system does not say.
func peakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb int64
			if _, err := fmt.Sscanf(strings.TrimSpace(v), "%d kB", &kb); err == nil {
				return kb << 10
			}
		}
	}
	return 0
}
