// Package server is Switchyard's HTTP layer: it wires the configured
// pieces together (database, keys, router, gateway, metrics), serves the
// /v1 OpenAI-compatible API, the /api admin API, /metrics and health
// checks, and reloads configuration without dropping requests.
package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"switchyard/internal/audit"
	"switchyard/internal/config"
	"switchyard/internal/db"
	"switchyard/internal/gateway"
	"switchyard/internal/guard"
	"switchyard/internal/limits"
	"switchyard/internal/metering"
	"switchyard/internal/metering/ledger"
	"switchyard/internal/metering/tokenize"
	"switchyard/internal/obs"
	"switchyard/internal/provider"
	"switchyard/internal/provider/preset"
	"switchyard/internal/router"
	"switchyard/internal/tenancy"

	"github.com/redis/go-redis/v9"
)

// Options are what a Server is built from.
type Options struct {
	Config   *config.Config
	AdminKey string // from SWITCHYARD_ADMIN_KEY; empty: generate on first start
	Log      *slog.Logger
	// Registry of provider kinds; nil means the built-ins.
	Registry *provider.Registry
	// AdminKeyOut receives the generated admin key on first start.
	AdminKeyOut io.Writer
}

// Server is one running switchyard instance.
type Server struct {
	log     *slog.Logger
	db      *db.DB
	keys    *tenancy.Store
	router  *router.Router
	gw      *gateway.Service
	metrics *obs.Metrics
	reg     *provider.Registry
	meter   *metering.Meter
	prices  *metering.PriceBook
	ledger  *ledger.Writer
	limits  limits.Limiter
	budgets limits.Budgets
	redis   *redis.Client
	audit   *audit.Log
	guard   *guard.Gate
	stop    context.CancelFunc // ends background work (tenancy watch, specialist training)
	done    <-chan struct{}    // closed by stop
	bg      sync.WaitGroup

	cfgMu     sync.Mutex // serialises reloads
	cfg       atomic.Pointer[config.Config]
	maxBody   atomic.Int64
	maxUpload atomic.Int64

	http    *http.Server
	ready   atomic.Bool
	started time.Time
}

// New opens the database (creating and migrating it), makes sure an admin
// key exists, and builds the router from the configuration.
func New(ctx context.Context, o Options) (*Server, error) {
	cfg := o.Config
	if cfg == nil {
		cfg = config.Default()
	}
	log := o.Log
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	reg := o.Registry
	if reg == nil {
		reg = builtins(cfg.DataDir)
	}
	d, err := db.Open(ctx, string(cfg.Database.URL), cfg.DataDir)
	if err != nil {
		return nil, err
	}
	s := &Server{log: log, db: d, reg: reg, started: time.Now()}
	ok := false
	defer func() {
		if !ok {
			s.closeStores()
		}
	}()
	s.audit = audit.Open(d, log)
	if s.keys, err = tenancy.NewStore(ctx, d, log); err != nil {
		return nil, err
	}
	generated, err := s.keys.EnsureAdmin(ctx, o.AdminKey)
	if err != nil {
		return nil, err
	}
	if generated != "" && o.AdminKeyOut != nil {
		fmt.Fprintf(o.AdminKeyOut, "\nSwitchyard created an admin key. It is shown only this once; store it now:\n\n    %s\n\n", generated)
	}
	s.ledger, err = ledger.Open(ctx, ledger.Options{DB: d, Dir: filepath.Join(cfg.DataDir, "ledger"), Log: log})
	if err != nil {
		return nil, err
	}
	// Usage an older version stored under no currency is the org's, unpriced.
	if err := ledger.AdoptUnpriced(ctx, d, func(org string) string {
		if o, err := s.keys.Org(org); err == nil {
			return o.Currency
		}
		return ""
	}); err != nil {
		return nil, err
	}
	if s.prices, err = metering.NewPriceBook(ctx, d, log); err != nil {
		return nil, err
	}
	s.meter = &metering.Meter{Tenants: s.keys, Prices: s.prices, DB: d, Ledger: s.ledger, Log: log, FailOpen: cfg.Limits.FailOpen}
	switch cfg.Limits.Backend {
	case "redis":
		opt, err := redis.ParseURL(string(cfg.Limits.RedisURL))
		if err != nil {
			return nil, fmt.Errorf("limits.redis_url: %w", err)
		}
		s.redis = redis.NewClient(opt)
		if err := s.redis.Ping(ctx).Err(); err != nil {
			return nil, fmt.Errorf("connecting to redis: %w", err)
		}
		s.limits = limits.NewRedis(s.redis, "sy:")
		s.budgets = limits.NewRedisBudgets(s.redis, "sy:", s.meter.Seed)
	default:
		s.limits = limits.NewMemory()
		s.budgets = limits.NewMemoryBudgets(s.meter.Seed)
	}
	s.meter.Limits, s.meter.Budgets = s.limits, s.budgets
	deps, err := meterView(cfg)
	if err != nil {
		return nil, err
	}
	s.meter.SetDeployments(deps)
	m := obs.New()
	rt := router.New(cfg.Router, m)
	cat, err := rt.Build(cfg, reg)
	if err != nil {
		return nil, err
	}
	rt.Swap(cat)
	s.router, s.metrics = rt, m
	s.cfg.Store(cfg)
	bg, stop := context.WithCancel(context.Background())
	s.stop, s.done = stop, bg.Done()
	s.guard, err = guard.NewGate(bg, guard.GateOptions{Config: func() *config.Guard { return &s.Config().Guard },
		DataDir: cfg.DataDir, Audit: s.audit, Log: log})
	if err != nil {
		return nil, err
	}
	s.gw = &gateway.Service{Auth: s.keys, Router: rt, Metrics: m, Log: log, Admit: s.meter, Guard: s.guard, MaxBody: s.maxBody.Load,
		MaxUpload: s.maxUpload.Load}
	s.gw.SetLogPrompts(cfg.Server.LogPrompts)
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		s.keys.Watch(bg, 500*time.Millisecond)
	}()
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		s.prices.Watch(bg, 500*time.Millisecond)
	}()
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		s.expireLogs(bg, 10*time.Minute)
	}()
	ok = true
	s.maxBody.Store(cfg.Server.MaxBodyBytes)
	s.maxUpload.Store(cfg.Server.MaxUploadBytes)
	s.http = &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	return s, nil
}

var _ gateway.Guard = (*guard.Gate)(nil)

// Builtins is the registry of provider kinds compiled into the binary,
// with local models named by `model:` in the default data directory.
func Builtins() *provider.Registry { return builtins("") }

// builtins is Builtins with local models in dataDir/models.
func builtins(dataDir string) *provider.Registry {
	r := &provider.Registry{}
	registerBuiltins(r, dataDir)
	return r
}

// Config returns the configuration in force.
func (s *Server) Config() *config.Config { return s.cfg.Load() }

// Router exposes the router (for the admin API and tests).
func (s *Server) Router() *router.Router { return s.router }

// Reload swaps in a new configuration. A configuration that fails to
// validate or to build is refused and the old one stays. Listener address
// and data directory changes need a restart and are reported.
func (s *Server) Reload(cfg *config.Config) error {
	s.cfgMu.Lock()
	defer s.cfgMu.Unlock()
	deps, err := meterView(cfg)
	if err != nil {
		return err
	}
	cat, err := s.router.Build(cfg, s.reg)
	if err != nil {
		return err
	}
	s.meter.SetDeployments(deps)
	old := s.cfg.Load()
	if cfg.Server.Addr != old.Server.Addr || cfg.DataDir != old.DataDir {
		s.log.Warn("config reload: server.addr and data_dir take effect only after a restart")
	}
	prev := s.router.Swap(cat)
	router.CloseAfter(prev, 10*time.Minute)
	s.cfg.Store(cfg)
	s.maxBody.Store(cfg.Server.MaxBodyBytes)
	s.maxUpload.Store(cfg.Server.MaxUploadBytes)
	s.gw.SetLogPrompts(cfg.Server.LogPrompts)
	if cfg.Guard.InjectionSpecialist != old.Guard.InjectionSpecialist || cfg.Guard.Injection != old.Guard.Injection {
		s.guard.Refresh(context.Background()) // load the newly named specialist now, not at the next check
	}
	s.log.Info("config reloaded", "file", cfg.File, "models", len(cfg.Models))
	return nil
}

// Serve accepts connections on l until Shutdown.
func (s *Server) Serve(l net.Listener) error {
	s.ready.Store(true)
	err := s.http.Serve(l)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown stops accepting, waits for in-flight requests and streams up to
// ctx's deadline, then closes everything.
func (s *Server) Shutdown(ctx context.Context) error {
	s.ready.Store(false)
	err := s.http.Shutdown(ctx)
	if err != nil {
		s.http.Close()
	}
	s.router.Close()
	if cerr := s.closeStores(); err == nil {
		err = cerr
	}
	return err
}

// Close releases resources without waiting (for tests that never served).
func (s *Server) Close() error {
	s.router.Close()
	return s.closeStores()
}

// closeStores stops background work, flushes the ledger and closes the
// limit backends and the database.
func (s *Server) closeStores() error {
	if s.stop != nil {
		s.stop()
		s.bg.Wait()
	}
	if s.guard != nil {
		s.guard.Close()
	}
	var errs []error
	if s.audit != nil {
		errs = append(errs, s.audit.Close())
	}
	if s.ledger != nil {
		errs = append(errs, s.ledger.Close())
	}
	if s.limits != nil {
		errs = append(errs, s.limits.Close())
	}
	if s.budgets != nil {
		errs = append(errs, s.budgets.Close())
	}
	if s.redis != nil {
		errs = append(errs, s.redis.Close())
	}
	errs = append(errs, s.db.Close())
	return errors.Join(errs...)
}

// meterView is what the meter needs from the configuration.
func meterView(cfg *config.Config) (*metering.Deployments, error) {
	tok, err := tokenize.NewMapper(cfg.Metering.Tokenizers, cfg.Metering.DefaultTokenizer)
	if err != nil {
		return nil, fmt.Errorf("metering.tokenizers: %w", err)
	}
	v := &metering.Deployments{Limits: map[string]limits.Rule{}, Prices: map[string]metering.Price{}, Tokenizers: tok}
	for _, m := range cfg.Models {
		for _, d := range m.Deployments {
			if l := d.Limits; l.RPM > 0 || l.TPM > 0 || l.Concurrency > 0 {
				v.Limits[d.ID] = limits.Rule{Scope: "deployment:" + d.ID, RPM: l.RPM, TPM: l.TPM, Concurrency: l.Concurrency}
			}
			p := d.Price
			if p == nil {
				// A preset's built-in list price; the config's price and
				// the price book (which the meter reads first) override it.
				if dp, ok := preset.DefaultPrice(d.Provider, d.Model); ok {
					p = &dp
				}
			}
			if p != nil {
				cur := p.Currency
				if cur == "" {
					cur = "USD"
				}
				v.Prices[d.ID] = metering.Price{Model: m.Name, Deployment: d.ID, Currency: cur,
					Input: micros(p.Input), CachedInput: micros(p.CachedInput), CacheWrite: micros(p.CacheWrite), Output: micros(p.Output)}
			}
		}
	}
	return v, nil
}

// micros converts a decimal price from the config file to micro-units.
func micros(v float64) int64 { return int64(math.Round(v * 1e6)) }
