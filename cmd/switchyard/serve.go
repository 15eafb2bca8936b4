package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"

	"switchyard/internal/config"
	"switchyard/internal/server"
)

const serveDesc = `
Run the platform: the OpenAI-compatible API under /v1 (chat, completions,
embeddings, classify, guard/check, feedback), the admin API under /api
(described at /api/openapi.json), the web console at /, Prometheus metrics
at /metrics, and /healthz and /readyz.

With no flags and no file it listens on 127.0.0.1:8080 and keeps its state
in ./switchyard-data/ (SQLite, created and migrated on start). On the first
start it creates an admin key and prints it once. SWITCHYARD_ADMIN_KEY adds
its value as a further admin key (the stored ones keep working) and logs the
change with the key prefixes; starting again with the same value changes
nothing, and the key keeps working after a start without the variable. A new
value replaces only the previous SWITCHYARD_ADMIN_KEY key. To retire an admin
key, call 'switchyard keys rotate-admin' with it: that prints a new admin key
once and revokes the key it was called with. Flags override the config file.

Signals: SIGHUP reloads the config file (a bad file is refused and the old
config stays); SIGTERM or SIGINT stop accepting, let in-flight requests and
streams finish (up to server.shutdown_timeout), then exit 0.`

func cmdServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	env := config.ReadEnv()
	fs := newFlags("serve", "serve [--config FILE] [--addr HOST:PORT] [--data-dir DIR]", serveDesc, stdout)
	cfgPath := fs.String("config", env.Config, "YAML config file (also SWITCHYARD_CONFIG)")
	addr := fs.String("addr", "", "listen address HOST:PORT (default 127.0.0.1:8080)")
	dataDir := fs.String("data-dir", env.DataDir, "state directory (also SWITCHYARD_DATA_DIR; default ./switchyard-data)")
	if err := parse(fs, args); err != nil {
		return err
	}
	load := func() (*config.Config, error) {
		cfg := config.Default()
		if *cfgPath != "" {
			var err error
			if cfg, err = config.Load(*cfgPath); err != nil {
				return nil, err
			}
		}
		if *addr != "" {
			cfg.Server.Addr = *addr
		}
		if *dataDir != "" {
			cfg.DataDir = *dataDir
		}
		return cfg, nil
	}
	cfg, err := load()
	if err != nil {
		return err
	}
	log := newLogger(cfg, stderr)
	srv, err := server.New(ctx, server.Options{Config: cfg, AdminKey: env.AdminKey, Log: log, AdminKeyOut: stdout})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Server.Addr)
	if err != nil {
		srv.Close()
		return fmt.Errorf("listening: %w", err)
	}
	log.Info("switchyard listening", "addr", ln.Addr().String(), "data_dir", cfg.DataDir, "models", len(cfg.Models), "version", version)

	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	for {
		select {
		case err := <-errc:
			srv.Close()
			return err
		case sig := <-sigs:
			if sig == syscall.SIGHUP {
				if *cfgPath == "" {
					log.Warn("SIGHUP ignored: no config file to reload")
					continue
				}
				next, err := load()
				if err == nil {
					err = srv.Reload(next)
				}
				if err != nil {
					log.Error("config reload refused; keeping the old config", "err", err)
				}
				continue
			}
			log.Info("shutting down", "signal", sig.String(), "deadline", cfg.Server.ShutdownTimeout.D().String())
			sctx, cancel := context.WithTimeout(context.Background(), srv.Config().Server.ShutdownTimeout.D())
			err := srv.Shutdown(sctx)
			cancel()
			if err != nil && !errors.Is(err, context.DeadlineExceeded) {
				return err
			}
			if err != nil {
				log.Warn("shutdown deadline passed; remaining connections closed")
			}
			log.Info("stopped")
			return nil
		}
	}
}

func newLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	level.UnmarshalText([]byte(cfg.Server.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Server.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
