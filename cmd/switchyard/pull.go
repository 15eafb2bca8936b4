package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"switchyard/internal/config"
	"switchyard/internal/engine/library"
)

const pullDesc = `
Download a GGUF model from Hugging Face into DATA_DIR/models, as
https://huggingface.co/OWNER/REPO/resolve/REVISION/FILE.gguf (REVISION
defaults to main). The bytes go to NAME.gguf.part first; running pull again
after an interruption resumes it. Files Hugging Face stores with a sha256
(all LFS files) are verified and deleted on a mismatch.

Environment: SWITCHYARD_HF_ENDPOINT replaces https://huggingface.co (a
mirror); HF_TOKEN is sent as a bearer token (gated or private repositories).

Without internet access, download the file elsewhere and use
'switchyard models import FILE'.`

func cmdPull(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	env := config.ReadEnv()
	fs := newFlags("pull", "pull hf://OWNER/REPO/FILE.gguf[@REVISION] [--name NAME] [--data-dir DIR]", pullDesc, stdout)
	name := fs.String("name", "", "model name (default: the file name without .gguf)")
	dataDir := dataDirFlag(fs)
	if err := parseInterspersed(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errUsage
	}
	ref, err := library.ParseRef(fs.Arg(0))
	if err != nil {
		return err
	}
	bar := newProgress(stderr, ref.File)
	m, err := openLibrary(*dataDir).Pull(ctx, ref, *name, library.PullOptions{
		Endpoint: env.HFEndpoint, Token: string(env.HFToken), Progress: bar.update,
	})
	bar.finish(err == nil)
	if err != nil {
		return err
	}
	check := "no sha256 published; not verified"
	if m.SHA256 != "" {
		check = "sha256 " + m.SHA256 + " verified"
	}
	fmt.Fprintf(stdout, "pulled %s (%s, %s params, %s, %s; %s) as %s\n", m.Name, m.Arch, humanCount(m.Params), m.FileType, humanBytes(m.Size), check, m.Path)
	return nil
}

// progress draws a download bar on a terminal (redrawn in place at most
// 10 times a second) or writes a plain line at most every 2 seconds.
type progress struct {
	w           io.Writer
	label       string
	tty         bool
	start, last time.Time
	startBytes  int64
	done, total int64
	drawn       bool
}

func newProgress(w io.Writer, label string) *progress {
	p := &progress{w: w, label: label, start: time.Now(), startBytes: -1}
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			p.tty = true
		}
	}
	return p
}

func (p *progress) update(done, total int64) {
	if p.startBytes < 0 {
		p.startBytes = done
		p.start = time.Now()
	}
	p.done, p.total = done, total
	every := 2 * time.Second
	if p.tty {
		every = 100 * time.Millisecond
	}
	if now := time.Now(); now.Sub(p.last) >= every || done == total {
		p.last = now
		p.draw()
	}
}

func (p *progress) draw() {
	rate := 0.0
	if el := time.Since(p.start).Seconds(); el > 0 {
		rate = float64(p.done-max(p.startBytes, 0)) / el
	}
	pct := ""
	if p.total > 0 {
		pct = fmt.Sprintf("%5.1f%% ", 100*float64(p.done)/float64(p.total))
	}
	size := humanBytes(p.done)
	if p.total > 0 {
		size += " / " + humanBytes(p.total)
	}
	if !p.tty {
		fmt.Fprintf(p.w, "%s: %s%s at %s/s\n", p.label, pct, size, humanBytes(int64(rate)))
		return
	}
	bar := ""
	if p.total > 0 {
		const width = 30
		n := int(width * p.done / p.total)
		bar = "[" + strings.Repeat("=", n) + strings.Repeat(" ", width-n) + "] "
	}
	fmt.Fprintf(p.w, "\r%s %s%s%s  %s/s   ", p.label, bar, pct, size, humanBytes(int64(rate)))
	p.drawn = true
}

// finish draws the final state and ends the bar's line.
func (p *progress) finish(ok bool) {
	if p.startBytes < 0 {
		return // nothing arrived
	}
	if ok && p.done != p.total {
		p.draw()
	}
	if p.tty && p.drawn {
		fmt.Fprintln(p.w)
	}
}
