package main

import (
	"net"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/clawtrail/clawtrail/claudecode"
	"github.com/clawtrail/clawtrail/httpapi"
	"github.com/goccy/go-yaml"
	"github.com/spf13/pflag"
)

// serveConfig is the server's configuration. Each setting comes from, in
// order of precedence: a flag, the environment (CLAWTRAIL_<NAME>), the YAML
// file given with --config, the default.
type serveConfig struct {
	Data            string        `yaml:"data" flag:"data" env:"CLAWTRAIL_DATA"`
	Listen          string        `yaml:"listen" flag:"listen" env:"CLAWTRAIL_LISTEN"`
	TLSCert         string        `yaml:"tls_cert" flag:"tls-cert" env:"CLAWTRAIL_TLS_CERT"`
	TLSKey          string        `yaml:"tls_key" flag:"tls-key" env:"CLAWTRAIL_TLS_KEY"`
	Insecure        bool          `yaml:"insecure" flag:"insecure" env:"CLAWTRAIL_INSECURE"`
	MetricsPublic   bool          `yaml:"metrics_public" flag:"metrics-public" env:"CLAWTRAIL_METRICS_PUBLIC"`
	MaxEventBytes   int           `yaml:"max_event_bytes" flag:"max-event-bytes" env:"CLAWTRAIL_MAX_EVENT_BYTES"`
	MaxRequestBytes int           `yaml:"max_request_bytes" flag:"max-request-bytes" env:"CLAWTRAIL_MAX_REQUEST_BYTES"`
	MaxClockSkew    time.Duration `yaml:"max_clock_skew" flag:"max-clock-skew" env:"CLAWTRAIL_MAX_CLOCK_SKEW"`
	LogLevel        string        `yaml:"log_level" flag:"log-level" env:"CLAWTRAIL_LOG_LEVEL"`
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout" flag:"shutdown-timeout" env:"CLAWTRAIL_SHUTDOWN_TIMEOUT"`
	SigningKeyFile  string        `yaml:"signing_key_file" flag:"signing-key-file" env:"CLAWTRAIL_SIGNING_KEY_FILE"`
	LogHost         string        `yaml:"log_host" flag:"log-host" env:"CLAWTRAIL_LOG_HOST"`
	CheckpointEvery time.Duration `yaml:"checkpoint_interval" flag:"checkpoint-interval" env:"CLAWTRAIL_CHECKPOINT_INTERVAL"`
	WitnessKeys     string        `yaml:"witness_keys" flag:"witness-keys" env:"CLAWTRAIL_WITNESS_KEYS"`
	TLSClientCA     string        `yaml:"tls_client_ca" flag:"tls-client-ca" env:"CLAWTRAIL_TLS_CLIENT_CA"`
	IngestRate      int           `yaml:"ingest_rate" flag:"ingest-rate" env:"CLAWTRAIL_INGEST_RATE"`
	QueryRate       int           `yaml:"query_rate" flag:"query-rate" env:"CLAWTRAIL_QUERY_RATE"`
	QueryTimeout    time.Duration `yaml:"query_timeout" flag:"query-timeout" env:"CLAWTRAIL_QUERY_TIMEOUT"`
	MasterKeyFile   string        `yaml:"master_key_file" flag:"master-key-file" env:"CLAWTRAIL_MASTER_KEY_FILE"`
	RetentionEvery  time.Duration `yaml:"retention_interval" flag:"retention-interval" env:"CLAWTRAIL_RETENTION_INTERVAL"`
	DebugListen     string        `yaml:"debug_listen" flag:"debug-listen" env:"CLAWTRAIL_DEBUG_LISTEN"`
	// Redaction rules (YAML only): default and per tenant.
	Redaction httpapi.Redaction `yaml:"redaction"`
	// Hooks: deny rules for agents' HTTP hooks (YAML only).
	Hooks struct {
		ClaudeCode claudecode.Policy `yaml:"claude_code"`
	} `yaml:"hooks"`
}

// Defaults for serveConfig.
const (
	DefaultData   = "./clawtrail-data"
	DefaultListen = "127.0.0.1:7300"
)

func defaultServeConfig() serveConfig {
	return serveConfig{Data: DefaultData, Listen: DefaultListen, MaxEventBytes: 1 << 20,
		MaxRequestBytes: 16 << 20, MaxClockSkew: 24 * time.Hour, LogLevel: "info", ShutdownTimeout: 30 * time.Second,
		CheckpointEvery: time.Second, IngestRate: 100000, QueryRate: 50, QueryTimeout: 30 * time.Second,
		RetentionEvery: time.Hour}
}

func (c *serveConfig) registerFlags(fs *pflag.FlagSet) {
	d := defaultServeConfig()
	fs.String("config", "", "YAML configuration file")
	fs.String("data", d.Data, "data directory (created on first start)")
	fs.String("listen", d.Listen, "address to listen on")
	fs.String("tls-cert", "", "TLS certificate file (PEM)")
	fs.String("tls-key", "", "TLS private key file (PEM)")
	fs.Bool("insecure", false, "allow listening on a non-loopback address without TLS")
	fs.Bool("metrics-public", false, "serve /metrics without a key")
	fs.Int("max-event-bytes", d.MaxEventBytes, "largest event accepted, in bytes")
	fs.Int("max-request-bytes", d.MaxRequestBytes, "largest request body accepted (after gzip), in bytes")
	fs.Duration("max-clock-skew", d.MaxClockSkew, "mark events whose timestamp is further than this from the receive time")
	fs.String("log-level", d.LogLevel, "debug, info, warn or error")
	fs.Duration("shutdown-timeout", d.ShutdownTimeout, "how long to drain requests on SIGINT/SIGTERM")
	fs.String("signing-key-file", "", "checkpoint signing key (a note private key) to use instead of DATA/signing.key, which is created at first start")
	fs.String("log-host", "", "host part of the log's name, <host>/clawtrail, when the ledger is created (default the host name)")
	fs.String("tls-client-ca", "", "require client certificates signed by this CA (PEM), in addition to API keys")
	fs.Int("ingest-rate", d.IngestRate, "events per second one API key may ingest (0: unlimited); over it: 429 with Retry-After")
	fs.Int("query-rate", d.QueryRate, "read requests per second one API key may make (0: unlimited); over it: 429 with Retry-After")
	fs.Duration("query-timeout", d.QueryTimeout, "longest a search, sessions or session request may work")
	fs.String("witness-keys", "", "accept cosignatures only from these witnesses (comma-separated public keys, as clawtrail witness prints them), each verified before it is stored")
	fs.Duration("checkpoint-interval", d.CheckpointEvery, "keep at most one checkpoint per interval in each tenant's history (every commit is signed regardless)")
	fs.String("master-key-file", "", "encrypt event bodies at rest under this master key (32 bytes, base64 or hex; make one with: openssl rand -base64 32)")
	fs.Duration("retention-interval", d.RetentionEvery, "how often the retention job applies the tenants' policies (0: only clawtrail retention run)")
	fs.String("debug-listen", "", "serve Go's profiler (/debug/pprof/) on this loopback address, without keys (off by default)")
}

// load fills c: defaults, then the file, then the environment, then the
// flags the user set.
func (c *serveConfig) load(fs *pflag.FlagSet, getenv func(string) string) error {
	*c = defaultServeConfig()
	if path, _ := fs.GetString("config"); path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return usagef("read config: %v", err)
		}
		if err := yaml.UnmarshalWithOptions(data, c, yaml.Strict()); err != nil {
			return usagef("config %s: %v", path, err)
		}
	}
	v := reflect.ValueOf(c).Elem()
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if s := getenv(f.Tag.Get("env")); s != "" {
			if err := setField(v.Field(i), s); err != nil {
				return usagef("%s=%q: %v", f.Tag.Get("env"), s, err)
			}
		}
		if fl := fs.Lookup(f.Tag.Get("flag")); fl != nil && fl.Changed {
			if err := setField(v.Field(i), fl.Value.String()); err != nil {
				return usagef("--%s: %v", fl.Name, err)
			}
		}
	}
	return c.validate()
}

func setField(v reflect.Value, s string) error {
	switch v.Interface().(type) {
	case string:
		v.SetString(s)
	case bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return err
		}
		v.SetBool(b)
	case int:
		n, err := strconv.Atoi(s)
		if err != nil {
			return err
		}
		v.SetInt(int64(n))
	case time.Duration:
		d, err := time.ParseDuration(s)
		if err != nil {
			return err
		}
		v.SetInt(int64(d))
	}
	return nil
}

func (c *serveConfig) validate() error {
	host, _, err := net.SplitHostPort(c.Listen)
	if err != nil {
		return usagef("listen address %q: %v", c.Listen, err)
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return usagef("--tls-cert and --tls-key go together")
	}
	if err := c.Redaction.Validate(); err != nil {
		return usagef("%v", err)
	}
	if err := c.Hooks.ClaudeCode.Compile(); err != nil {
		return usagef("hooks.claude_code: %v", err)
	}
	if c.TLSCert == "" && !c.Insecure && !isLoopback(host) {
		return usagef("listening on %s without TLS would expose audit data in clear; give --tls-cert and --tls-key, or --insecure", c.Listen)
	}
	if c.DebugListen != "" {
		// The profiler answers without a key and its heap and goroutine
		// dumps can hold event data: never off the machine.
		h, _, err := net.SplitHostPort(c.DebugListen)
		if err != nil {
			return usagef("debug-listen address %q: %v", c.DebugListen, err)
		}
		if !isLoopback(h) {
			return usagef("debug-listen %s: the profiler has no authentication and its dumps can hold event data; give a loopback address (127.0.0.1:PORT)", c.DebugListen)
		}
	}
	if c.MaxEventBytes < 1024 || c.MaxRequestBytes < c.MaxEventBytes {
		return usagef("max-event-bytes must be at least 1024 and max-request-bytes at least max-event-bytes")
	}
	switch strings.ToLower(c.LogLevel) {
	case "debug", "info", "warn", "error":
	default:
		return usagef("log level %q: want debug, info, warn or error", c.LogLevel)
	}
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func osGetenv(k string) string { return os.Getenv(k) }
