// Package config is Switchyard's configuration: one typed struct decoded
// strictly from YAML (unknown keys rejected, ${ENV} expanded), defaults set
// in one place, and Validate joining every problem with file:line.
//
// It is the only package that reads the environment.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"strings"
	"time"

	"switchyard/internal/policy"
)

// Config is the whole configuration of a switchyard process.
type Config struct {
	Server  Server  `yaml:"server"`
	DataDir string  `yaml:"data_dir"`
	Router  Router  `yaml:"router"`
	Models  []Model `yaml:"models"`
	// Database is where tenants, keys and the usage ledger live.
	Database Database `yaml:"database"`
	// Limits chooses where rate-limit and budget counters live.
	Limits Limits `yaml:"limits"`
	// Metering configures token counting.
	Metering Metering `yaml:"metering"`
	// Guard names the privacy and safety policies.
	Guard Guard `yaml:"guard"`

	// File is the path the config was read from ("" for defaults).
	File string `yaml:"-"`
}

// Server holds the HTTP listener settings.
type Server struct {
	Addr         string `yaml:"addr"`
	MaxBodyBytes int64  `yaml:"max_body_bytes"`
	// MaxUploadBytes bounds a multipart or binary upload (audio
	// transcriptions, passthrough uploads), spooled to a temporary file
	// rather than held in memory (default 32 MiB).
	MaxUploadBytes  int64    `yaml:"max_upload_bytes"`
	ShutdownTimeout Duration `yaml:"shutdown_timeout"`
	LogLevel        string   `yaml:"log_level"`
	LogFormat       string   `yaml:"log_format"`
	// LogPrompts adds prompt text to request logs; off by default.
	LogPrompts bool `yaml:"log_prompts"`
}

// Router holds the defaults for routing and resilience.
type Router struct {
	Strategy string  `yaml:"strategy"`
	Breaker  Breaker `yaml:"breaker"`
	Backoff  Backoff `yaml:"backoff"`
}

// Breaker configures the per-deployment circuit breaker.
type Breaker struct {
	Failures int      `yaml:"failures"`
	Cooldown Duration `yaml:"cooldown"`
}

// Backoff configures retry delays: exponential from Initial, capped at Max,
// with full jitter. MaxWait caps how long a Retry-After is honoured.
type Backoff struct {
	Initial Duration `yaml:"initial"`
	Max     Duration `yaml:"max"`
	MaxWait Duration `yaml:"max_wait"`
}

// Database selects the store: "" or "sqlite" (the data directory's
// switchyard.db), "sqlite:PATH", or a postgres:// URL.
type Database struct {
	URL Redacted `yaml:"url"`
}

// Limits selects the backend of rate limits and budget reservations:
// "memory" (one replica) or "redis" (replicas share one set of counters).
type Limits struct {
	Backend  string   `yaml:"backend"`
	RedisURL Redacted `yaml:"redis_url"`
	// FailOpen admits requests when Redis cannot be reached (default: refuse with 503).
	FailOpen bool `yaml:"fail_open"`
}

// Metering configures token counting for limits and for usage when an
// upstream reports none.
type Metering struct {
	// Tokenizers maps a public model name, or a prefix ending in "*", to
	// "o200k_base" or "cl100k_base". Unlisted models use DefaultTokenizer.
	Tokenizers map[string]string `yaml:"tokenizers"`
	// DefaultTokenizer is used for models not in Tokenizers (default o200k_base).
	DefaultTokenizer string `yaml:"default_tokenizer"`
}

// Guard holds the named guard policies and the default one.
type Guard struct {
	// Default names the policy of projects that choose none; "" is the
	// built-in "detect" policy (detect and flag everything, block nothing).
	Default string `yaml:"default"`
	// Policies are named policies projects may choose.
	Policies map[string]policy.Policy `yaml:"policies"`
	// HoldBack is how many characters of a streamed answer are held back
	// so a value split across chunks is still caught (default 64).
	HoldBack int `yaml:"hold_back"`
	// InjectionSpecialist names a trained specialist (labels 0/1) whose
	// promoted version scores prompt injection alongside the rules.
	InjectionSpecialist string `yaml:"injection_specialist"`
	// Injection chooses the injection scorer: "builtin" (default), the
	// detector trained into the binary for English and Chinese, or
	// "rules", the phrase rules' own score.
	Injection string `yaml:"injection"`
}

// DeploymentLimits cap what one deployment is sent, across all keys.
type DeploymentLimits struct {
	RPM         int64 `yaml:"rpm"`
	TPM         int64 `yaml:"tpm"`
	Concurrency int64 `yaml:"concurrency"`
}

// Model is one public model name and the deployments that serve it.
type Model struct {
	Name        string       `yaml:"name"`
	Fallbacks   []string     `yaml:"fallbacks"`
	MaxRetries  *int         `yaml:"max_retries"`
	Strategy    string       `yaml:"strategy"`
	Deployments []Deployment `yaml:"deployments"`
	// Passthrough sends requests for /v1 paths Switchyard does not serve
	// itself, naming this model, to a deployment at the same path,
	// untouched but for the model name (off by default).
	Passthrough bool `yaml:"passthrough"`

	Line int `yaml:"-"`
}

// Deployment is one upstream that can serve a model. Common fields are
// typed here; Options holds the provider-specific rest, decoded strictly by
// the provider's own factory.
type Deployment struct {
	ID       string `yaml:"id"`
	Provider string `yaml:"provider"`
	Model    string `yaml:"model"`
	Weight   *int   `yaml:"weight"`
	Price    *Price `yaml:"price"`
	// Limits for this deployment; zero values mean unlimited.
	Limits DeploymentLimits `yaml:"limits"`

	// Options are the remaining keys (base_url, api_key, timeouts, …),
	// decoded by the provider kind's factory.
	Options Node `yaml:"-"`
	Line    int  `yaml:"-"`
}

// Price is a deployment's list price per 1M tokens, in Currency.
type Price struct {
	Input       float64 `yaml:"input"`
	CachedInput float64 `yaml:"cached_input"`
	CacheWrite  float64 `yaml:"cache_write"` // prompt-cache writes (Anthropic); 0: as input
	Output      float64 `yaml:"output"`
	Currency    string  `yaml:"currency"`
}

// Duration is a time.Duration written as "60s", "1m30s" or a number of seconds.
type Duration time.Duration

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Default returns the configuration used with no file.
func Default() *Config {
	c := &Config{}
	c.applyDefaults()
	return c
}

func (c *Config) applyDefaults() {
	if c.Server.Addr == "" {
		c.Server.Addr = "127.0.0.1:8080"
	}
	if c.Server.MaxBodyBytes == 0 {
		c.Server.MaxBodyBytes = 20 << 20
	}
	if c.Server.MaxUploadBytes == 0 {
		c.Server.MaxUploadBytes = 32 << 20
	}
	if c.Server.ShutdownTimeout == 0 {
		c.Server.ShutdownTimeout = Duration(30 * time.Second)
	}
	if c.Server.LogLevel == "" {
		c.Server.LogLevel = "info"
	}
	if c.Server.LogFormat == "" {
		c.Server.LogFormat = "text"
	}
	if c.DataDir == "" {
		c.DataDir = "./switchyard-data"
	}
	if c.Limits.Backend == "" {
		c.Limits.Backend = "memory"
	}
	if c.Guard.Injection == "" {
		c.Guard.Injection = "builtin"
	}
	if c.Guard.HoldBack == 0 {
		c.Guard.HoldBack = 64
	}
	if c.Metering.DefaultTokenizer == "" {
		c.Metering.DefaultTokenizer = "o200k_base"
	}
	if c.Router.Strategy == "" {
		c.Router.Strategy = "weighted"
	}
	if c.Router.Breaker.Failures == 0 {
		c.Router.Breaker.Failures = 5
	}
	if c.Router.Breaker.Cooldown == 0 {
		c.Router.Breaker.Cooldown = Duration(30 * time.Second)
	}
	if c.Router.Backoff.Initial == 0 {
		c.Router.Backoff.Initial = Duration(100 * time.Millisecond)
	}
	if c.Router.Backoff.Max == 0 {
		c.Router.Backoff.Max = Duration(5 * time.Second)
	}
	if c.Router.Backoff.MaxWait == 0 {
		c.Router.Backoff.MaxWait = Duration(10 * time.Second)
	}
	for i := range c.Models {
		m := &c.Models[i]
		if m.MaxRetries == nil {
			two := 2
			m.MaxRetries = &two
		}
		if m.Strategy == "" {
			m.Strategy = c.Router.Strategy
		}
		for j := range m.Deployments {
			d := &m.Deployments[j]
			if d.Model == "" {
				d.Model = m.Name
			}
			if d.Weight == nil {
				one := 1
				d.Weight = &one
			}
			if d.ID == "" {
				d.ID = fmt.Sprintf("%s-%d", m.Name, j+1)
			}
		}
	}
}

// Strategies the router implements.
var Strategies = []string{"weighted", "least_outstanding"}

// Validate checks the whole configuration and returns every problem found,
// joined, each naming file:line and the field.
func (c *Config) Validate() error {
	var errs []error
	bad := func(line int, field, format string, args ...any) {
		errs = append(errs, &FieldError{File: c.File, Line: line, Field: field, Msg: fmt.Sprintf(format, args...)})
	}
	if c.Server.MaxBodyBytes < 0 {
		bad(0, "server.max_body_bytes", "must be positive")
	}
	if c.Server.MaxUploadBytes < 0 {
		bad(0, "server.max_upload_bytes", "must be positive")
	}
	switch c.Server.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		bad(0, "server.log_level", "must be one of debug, info, warn, error")
	}
	switch c.Server.LogFormat {
	case "text", "json":
	default:
		bad(0, "server.log_format", "must be text or json")
	}
	switch c.Limits.Backend {
	case "memory":
	case "redis":
		if c.Limits.RedisURL == "" {
			bad(0, "limits.redis_url", "is required when limits.backend is redis")
		}
	default:
		bad(0, "limits.backend", "must be memory or redis")
	}
	if u := string(c.Database.URL); u != "" && u != "sqlite" && !strings.HasPrefix(u, "sqlite:") &&
		!strings.HasPrefix(u, "postgres://") && !strings.HasPrefix(u, "postgresql://") {
		bad(0, "database.url", "must be sqlite, sqlite:PATH or a postgres:// URL")
	}
	for m, enc := range c.Metering.Tokenizers {
		if enc != "o200k_base" && enc != "cl100k_base" {
			bad(0, "metering.tokenizers."+m, "unknown tokenizer %q (want o200k_base or cl100k_base)", enc)
		}
	}
	if e := c.Metering.DefaultTokenizer; e != "o200k_base" && e != "cl100k_base" {
		bad(0, "metering.default_tokenizer", "unknown tokenizer %q (want o200k_base or cl100k_base)", e)
	}
	for _, name := range sortedNames(c.Guard.Policies) {
		p := c.Guard.Policies[name]
		if err := p.Validate(); err != nil {
			bad(0, "guard.policies."+name, "%v", err)
		}
	}
	if _, ok := c.Guard.Policies[c.Guard.Default]; c.Guard.Default != "" && !ok {
		bad(0, "guard.default", "unknown policy %q", c.Guard.Default)
	}
	if i := c.Guard.Injection; i != "builtin" && i != "rules" && i != "" {
		bad(0, "guard.injection", "unknown scorer %q (want builtin or rules)", i)
	}
	if c.Guard.HoldBack < 0 {
		bad(0, "guard.hold_back", "must not be negative")
	}
	if !validStrategy(c.Router.Strategy) {
		bad(0, "router.strategy", "unknown strategy %q (want one of %s)", c.Router.Strategy, strings.Join(Strategies, ", "))
	}
	if c.Router.Breaker.Failures < 0 {
		bad(0, "router.breaker.failures", "must not be negative")
	}
	names := map[string]int{}
	ids := map[string]int{}
	for i, m := range c.Models {
		field := fmt.Sprintf("models[%d]", i)
		if m.Name == "" {
			bad(m.Line, field+".name", "is required")
		} else if prev, dup := names[m.Name]; dup {
			bad(m.Line, field+".name", "duplicate model name %q (first at line %d)", m.Name, prev)
		} else {
			names[m.Name] = m.Line
		}
		if m.MaxRetries != nil && *m.MaxRetries < 0 {
			bad(m.Line, field+".max_retries", "must not be negative")
		}
		if !validStrategy(m.Strategy) {
			bad(m.Line, field+".strategy", "unknown strategy %q (want one of %s)", m.Strategy, strings.Join(Strategies, ", "))
		}
		if len(m.Deployments) == 0 {
			bad(m.Line, field+".deployments", "at least one deployment is required")
		}
		for j, d := range m.Deployments {
			df := fmt.Sprintf("%s.deployments[%d]", field, j)
			if d.Provider == "" {
				bad(d.Line, df+".provider", "is required")
			}
			if prev, dup := ids[d.ID]; dup {
				bad(d.Line, df+".id", "duplicate deployment id %q (first at line %d)", d.ID, prev)
			} else {
				ids[d.ID] = d.Line
			}
			if d.Weight != nil && *d.Weight < 0 {
				bad(d.Line, df+".weight", "must not be negative")
			}
			if l := d.Limits; l.RPM < 0 || l.TPM < 0 || l.Concurrency < 0 {
				bad(d.Line, df+".limits", "limits must not be negative")
			}
			if p := d.Price; p != nil {
				if p.Input < 0 || p.Output < 0 || p.CachedInput < 0 || p.CacheWrite < 0 {
					bad(d.Line, df+".price", "prices must not be negative")
				}
				switch p.Currency {
				case "", "USD", "CNY":
				default:
					bad(d.Line, df+".price.currency", "unknown currency %q (want USD or CNY)", p.Currency)
				}
			}
		}
	}
	for i, m := range c.Models {
		for _, fb := range m.Fallbacks {
			if _, ok := names[fb]; !ok {
				bad(m.Line, fmt.Sprintf("models[%d].fallbacks", i), "unknown model %q", fb)
			}
			if fb == m.Name {
				bad(m.Line, fmt.Sprintf("models[%d].fallbacks", i), "a model cannot fall back to itself")
			}
		}
	}
	return errors.Join(errs...)
}

func sortedNames[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func validStrategy(s string) bool {
	for _, v := range Strategies {
		if s == v {
			return true
		}
	}
	return false
}

// FieldError is one configuration problem.
type FieldError struct {
	File  string
	Line  int
	Field string
	Msg   string
}

func (e *FieldError) Error() string {
	loc := e.File
	if loc == "" {
		loc = "config"
	}
	if e.Line > 0 {
		loc = fmt.Sprintf("%s:%d", loc, e.Line)
	}
	if e.Field != "" {
		return fmt.Sprintf("%s: %s: %s", loc, e.Field, e.Msg)
	}
	return fmt.Sprintf("%s: %s", loc, e.Msg)
}

// Env is the view of the process environment the rest of the program gets.
type Env struct {
	DataDir  string // SWITCHYARD_DATA_DIR
	AdminKey string // SWITCHYARD_ADMIN_KEY
	Config   string // SWITCHYARD_CONFIG
	Server   string // SWITCHYARD_SERVER: the API client commands' server URL
	Key      string // SWITCHYARD_KEY: the API client commands' key
	// HFEndpoint is SWITCHYARD_HF_ENDPOINT: the Hugging Face base URL for
	// pull (default https://huggingface.co).
	HFEndpoint string
	HFToken    Redacted // HF_TOKEN: sent as a bearer token by pull
}

// ReadEnv reads the SWITCHYARD_* variables and HF_TOKEN.
func ReadEnv() Env {
	return Env{
		DataDir:  os.Getenv("SWITCHYARD_DATA_DIR"),
		AdminKey: os.Getenv("SWITCHYARD_ADMIN_KEY"),
		Config:   os.Getenv("SWITCHYARD_CONFIG"),
		Server:   os.Getenv("SWITCHYARD_SERVER"),
		Key:      os.Getenv("SWITCHYARD_KEY"),

		HFEndpoint: os.Getenv("SWITCHYARD_HF_ENDPOINT"),
		HFToken:    Redacted(os.Getenv("HF_TOKEN")),
	}
}

// Redacted is a secret string that prints redacted in logs and fmt.
type Redacted string

func (Redacted) String() string { return "[redacted]" }

// LogValue implements slog.LogValuer.
func (Redacted) LogValue() slog.Value { return slog.StringValue("[redacted]") }
