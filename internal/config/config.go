// Package config holds jifen's configuration: one typed table of options,
// each settable by a JIFEN_* environment variable and a matching flag, with
// defaults and validation. It is read once at start and passed in; there is
// no global configuration.
package config

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Config is the effective configuration of one process.
type Config struct {
	DataDir      string
	DB           string // DSN; empty means <DataDir>/jifen.db
	InternetAddr string
	OfficeAddr   string
	MetricsAddr  string
	LogFormat    string // text | json
	LogLevel     string // debug | info | warn | error
	// LogDir holds the rotated log files (docs/operations.md, "Logs"):
	// "" means <DataDir>/logs, "off" none (stdout only).
	LogDir      string
	LogMaxMB    int // rotate a log file past this size
	LogKeepDays int // delete rotated log files older than this
	// OncallEmails receive the alerts and the daily log digest.
	OncallEmails   []string
	Surfaces       []string
	Worker         bool
	TLSCert        string
	TLSKey         string
	TrustedProxies []netip.Prefix
	MasterKey      string // hex; secret
	BodyLimit      int64
	MaxInFlight    int     // requests one listener works on at once (0: no bound)
	LoginRate      float64 // login/registration attempts per second per client
	LoginBurst     int
	// PublicRate is the requests per second per client allowed on the
	// public lists' pages and API (search included); 0 turns the limit off.
	PublicRate float64
	// PublicURL is the internet site's address as people reach it (the
	// unsubscribe links of mass mail); "" derives it from InternetAddr.
	PublicURL string
	// MailApprovalOver is the number of recipients above which a campaign
	// started in the office waits for a second operator's approval.
	MailApprovalOver int
	// MailClaimLease is how long a campaign sender holds a batch.
	MailClaimLease time.Duration
	// ObjectionRate and ObjectionBurst limit the objections (异议) one
	// client address may lodge.
	ObjectionRate  float64
	ObjectionBurst int
	HashConcurrent int
	// StatsMinCell is the small-cell threshold of statistics that leave the
	// office (exports, the API, mailed reports): a cell counting fewer
	// shows "<N" (docs/statistics.md); 0 or 1 turns it off.
	StatsMinCell int
	// StatsMaxExport bounds the cells of a statistics export or API answer.
	StatsMaxExport int
	// Pprof serves net/http/pprof on the metrics listener.
	Pprof bool
	// PrecheckPerDay is how many pre-checks (预核验) one applicant may ask
	// for in a Beijing day.
	PrecheckPerDay int
	Migrate        bool
	ShutdownGrace  time.Duration
	SMTP           SMTP
	// BounceAddr is where the inbound SMTP listener takes bounces to the
	// VERP return paths of mass mail ("" = no listener); BounceDomain is
	// the domain of those addresses, whose MX points at BounceAddr.
	BounceAddr   string
	BounceDomain string
	Backup       Backup
}

// Backup is the schedule and retention of backups (docs/operations.md,
// "Backups").
type Backup struct {
	Dir   string        // where backups go; empty means <DataDir>/backups
	Every time.Duration // 7 days (weekly), 1 day (daily) or 0 (off)
	// KeepWeekly and KeepMonthly: retention keeps the newest backup of
	// each of this many weeks and months.
	KeepWeekly, KeepMonthly int
}

// SMTP is the mail server configuration; an empty Host keeps mail in the
// outbox, readable in the office mail log.
type SMTP struct {
	Host, Username, Password, TLS, From string
	Port                                int
	// More are further servers (host:port, the same account and TLS) that
	// mass-mail campaigns send through besides Host.
	More []string
}

// AllSurfaces lists the surfaces a process can serve.
var AllSurfaces = []string{"portal", "public", "office", "metrics"}

// Group is a set of options that go together: a command registers the flags
// of the groups it uses, so that its help lists only those. Every option is
// still read from its environment variable and validated, whichever groups
// a command registers.
type Group uint8

// The groups of options.
const (
	Store Group = 1 << iota // where the data lives: data directory and database
	App                     // what opening the application reads besides the store: master key, migration at start, password hashing
	Log                     // log format and level
	Serve                   // what only a serving process reads: listeners, surfaces, worker, TLS, proxies, limits, shutdown, mail server
	All   = Store | App | Log | Serve
)

// option describes one setting: its group, flag and variable names,
// default, whether it is secret, and how to store it.
type option struct {
	group                Group
	flag, env, def, help string
	secret               bool
	set                  func(c *Config, v string) error
}

func options() []option {
	return []option{
		{Store, "data-dir", "JIFEN_DATA_DIR", "./data", "directory for the SQLite file, keys, blobs and archives", false,
			func(c *Config, v string) error { c.DataDir = v; return nil }},
		{Store, "db", "JIFEN_DB", "", "database: empty for SQLite in the data dir, a file path, or a postgres:// DSN", true,
			func(c *Config, v string) error { c.DB = v; return nil }},
		{Serve, "internet-addr", "JIFEN_INTERNET_ADDR", ":8080", "listener of the internet surfaces (portal, public)", false,
			func(c *Config, v string) error { c.InternetAddr = v; return checkAddr(v) }},
		{Serve, "office-addr", "JIFEN_OFFICE_ADDR", ":8081", "listener of the government-network surface (office)", false,
			func(c *Config, v string) error { c.OfficeAddr = v; return checkAddr(v) }},
		{Serve, "metrics-addr", "JIFEN_METRICS_ADDR", "127.0.0.1:9090", "listener of the Prometheus metrics", false,
			func(c *Config, v string) error { c.MetricsAddr = v; return checkAddr(v) }},
		{Serve, "pprof", "JIFEN_PPROF", "false", "serve Go's profiler (/debug/pprof/) on the metrics listener, for finding bottlenecks under load (docs/loadtest.md)", false,
			func(c *Config, v string) (err error) { c.Pprof, err = strconv.ParseBool(v); return err }},
		{Log, "log-format", "JIFEN_LOG_FORMAT", "text", "log format: text or json", false,
			func(c *Config, v string) error { c.LogFormat = v; return oneOf(v, "text", "json") }},
		{Log, "log-level", "JIFEN_LOG_LEVEL", "info", "log level: debug, info, warn, error", false,
			func(c *Config, v string) error { c.LogLevel = v; return oneOf(v, "debug", "info", "warn", "error") }},
		{Log, "log-dir", "JIFEN_LOG_DIR", "", "directory of the rotated log files (empty: <data-dir>/logs; off: stdout only)", false,
			func(c *Config, v string) error { c.LogDir = v; return nil }},
		{Log, "log-max-mb", "JIFEN_LOG_MAX_MB", "100", "rotate a log file past this many MiB", false,
			func(c *Config, v string) error { n, err := positiveInt(v); c.LogMaxMB = int(n); return err }},
		{Log, "log-keep-days", "JIFEN_LOG_KEEP_DAYS", "366", "delete rotated log files older than this many days", false,
			func(c *Config, v string) error { n, err := positiveInt(v); c.LogKeepDays = int(n); return err }},
		{Serve, "oncall-emails", "JIFEN_ONCALL_EMAILS", "", "comma-separated addresses of the on-call staff: alerts and the daily log digest are mailed to them", false,
			func(c *Config, v string) error {
				c.OncallEmails = nil
				for _, a := range strings.Split(v, ",") {
					if a = strings.TrimSpace(a); a == "" {
						continue
					}
					if !strings.Contains(a, "@") || strings.ContainsAny(a, " <>") {
						return fmt.Errorf("%q is not a mail address", a)
					}
					c.OncallEmails = append(c.OncallEmails, a)
				}
				return nil
			}},
		{Serve, "surfaces", "JIFEN_SURFACES", "portal,public,office,metrics", "surfaces this process serves", false,
			func(c *Config, v string) error { return c.setSurfaces(v) }},
		{Serve, "worker", "JIFEN_WORKER", "true", "run the background worker (jobs, schedules) in this process", false,
			func(c *Config, v string) (err error) { c.Worker, err = strconv.ParseBool(v); return err }},
		{Serve, "tls-cert", "JIFEN_TLS_CERT", "", "TLS certificate file (enables HTTPS and HSTS)", false,
			func(c *Config, v string) error { c.TLSCert = v; return nil }},
		{Serve, "tls-key", "JIFEN_TLS_KEY", "", "TLS private key file", false,
			func(c *Config, v string) error { c.TLSKey = v; return nil }},
		{Serve, "trusted-proxies", "JIFEN_TRUSTED_PROXIES", "", "comma-separated CIDRs whose X-Forwarded-For is believed", false,
			func(c *Config, v string) error { return c.setProxies(v) }},
		{App, "master-key", "JIFEN_MASTER_KEY", "", "hex master key (else <data-dir>/master.key, generated on first start)", true,
			func(c *Config, v string) error { c.MasterKey = v; return nil }},
		{Serve, "body-limit", "JIFEN_BODY_LIMIT", "1048576", "largest request body in bytes (uploads have their own limit)", false,
			func(c *Config, v string) (err error) { c.BodyLimit, err = positiveInt(v); return err }},
		{Serve, "max-in-flight", "JIFEN_MAX_IN_FLIGHT", "256", "requests one listener works on at once; past it 503 after 100 ms (0: no bound)", false,
			func(c *Config, v string) (err error) {
				n, err := strconv.Atoi(v)
				if err == nil && n < 0 {
					err = errors.New("must not be negative")
				}
				c.MaxInFlight = n
				return err
			}},
		{Serve, "login-rate", "JIFEN_LOGIN_RATE", "0.2", "login and registration attempts per second per client address", false,
			func(c *Config, v string) (err error) {
				c.LoginRate, err = strconv.ParseFloat(v, 64)
				if err == nil && c.LoginRate <= 0 {
					err = errors.New("must be positive")
				}
				return err
			}},
		{Serve, "login-burst", "JIFEN_LOGIN_BURST", "10", "burst of login attempts per client address", false,
			func(c *Config, v string) error { n, err := positiveInt(v); c.LoginBurst = int(n); return err }},
		{Serve, "public-rate-limit", "JIFEN_PUBLIC_RATE_LIMIT", "10", "requests per second per client address on the public lists and their search (burst: twice as many; 0: off)", false,
			func(c *Config, v string) (err error) {
				c.PublicRate, err = strconv.ParseFloat(v, 64)
				if err == nil && (c.PublicRate < 0 || c.PublicRate != c.PublicRate) {
					err = errors.New("must be 0 or positive")
				}
				return err
			}},
		{Serve, "objection-rate", "JIFEN_OBJECTION_RATE", "0.1", "objections lodged per second per client address", false,
			func(c *Config, v string) (err error) {
				c.ObjectionRate, err = strconv.ParseFloat(v, 64)
				if err == nil && c.ObjectionRate <= 0 {
					err = errors.New("must be positive")
				}
				return err
			}},
		{Serve, "objection-burst", "JIFEN_OBJECTION_BURST", "3", "burst of objections per client address", false,
			func(c *Config, v string) error { n, err := positiveInt(v); c.ObjectionBurst = int(n); return err }},
		{Serve, "public-url", "JIFEN_PUBLIC_URL", "", "the internet site's address as people reach it, e.g. https://jifen.example.cn (links in mass mail); empty: from internet-addr", false,
			func(c *Config, v string) error {
				c.PublicURL = strings.TrimRight(v, "/")
				if v != "" && !strings.HasPrefix(v, "https://") && !strings.HasPrefix(v, "http://") {
					return errors.New("must start with https:// or http://")
				}
				return nil
			}},
		{Serve, "mail-approval-over", "JIFEN_MAIL_APPROVAL_OVER", "1000", "recipients above which a mass-mail campaign started in the office needs a second operator's approval", false,
			func(c *Config, v string) error { n, err := positiveInt(v); c.MailApprovalOver = int(n); return err }},
		{Serve, "mail-claim-lease", "JIFEN_MAIL_CLAIM_LEASE", "60s", "how long a mass-mail sender holds a claimed batch; after a crash its unsent messages wait this long", false,
			func(c *Config, v string) (err error) {
				c.MailClaimLease, err = time.ParseDuration(v)
				if err == nil && c.MailClaimLease < time.Second {
					err = errors.New("must be at least 1s")
				}
				return err
			}},
		{App, "hash-concurrency", "JIFEN_HASH_CONCURRENCY", "0", "password hashes computed at once (0: number of CPUs)", false,
			func(c *Config, v string) error { n, err := strconv.Atoi(v); c.HashConcurrent = n; return err }},
		{App, "stats-max-export", "JIFEN_STATS_MAX_EXPORT", "100000", "most cells a statistics export or API answer may hold (more is refused with a message, never cut short)", false,
			func(c *Config, v string) error { n, err := positiveInt(v); c.StatsMaxExport = int(n); return err }},
		{App, "stats-min-cell", "JIFEN_STATS_MIN_CELL", "5", "statistics leaving the office show a cell counting fewer people as \"<N\" (0: exact figures)", false,
			func(c *Config, v string) error {
				n, err := strconv.Atoi(v)
				if err != nil || n < 0 || n > 1000 {
					return errors.New("must be a whole number from 0 to 1000")
				}
				c.StatsMinCell = n
				return nil
			}},
		{App, "precheck-per-day", "JIFEN_PRECHECK_PER_DAY", "3", "pre-checks (预核验: the agencies asked about one applicant before submitting) one applicant may ask for in a day; more are refused with a message", false,
			func(c *Config, v string) error {
				n, err := strconv.Atoi(v)
				if err != nil || n < 1 || n > 100 {
					return errors.New("must be a whole number from 1 to 100")
				}
				c.PrecheckPerDay = n
				return nil
			}},
		{App, "migrate", "JIFEN_MIGRATE", "true", "apply pending migrations at start (else refuse to serve on an old schema)", false,
			func(c *Config, v string) (err error) { c.Migrate, err = strconv.ParseBool(v); return err }},
		{Serve, "shutdown-grace", "JIFEN_SHUTDOWN_GRACE", "15s", "time given to requests in flight on SIGTERM", false,
			func(c *Config, v string) (err error) { c.ShutdownGrace, err = time.ParseDuration(v); return err }},
		{Serve, "smtp-more", "JIFEN_SMTP_MORE", "", "further SMTP servers for mass mail, host:port,host:port (same account and TLS as smtp-host)", false,
			func(c *Config, v string) error {
				c.SMTP.More = nil
				for _, h := range strings.Split(v, ",") {
					if h = strings.TrimSpace(h); h == "" {
						continue
					}
					if _, _, err := net.SplitHostPort(h); err != nil {
						return fmt.Errorf("%q is not host:port", h)
					}
					c.SMTP.More = append(c.SMTP.More, h)
				}
				return nil
			}},
		{Serve, "smtp-host", "JIFEN_SMTP_HOST", "", "SMTP server host (empty: mail stays in the outbox / office mail log)", false,
			func(c *Config, v string) error { c.SMTP.Host = v; return nil }},
		{Serve, "smtp-port", "JIFEN_SMTP_PORT", "0", "SMTP port (0: 25, 587 or 465 by TLS mode)", false,
			func(c *Config, v string) (err error) { c.SMTP.Port, err = strconv.Atoi(v); return err }},
		{Serve, "smtp-username", "JIFEN_SMTP_USERNAME", "", "SMTP user name (empty: no login)", false,
			func(c *Config, v string) error { c.SMTP.Username = v; return nil }},
		{Serve, "smtp-password", "JIFEN_SMTP_PASSWORD", "", "SMTP password", true,
			func(c *Config, v string) error { c.SMTP.Password = v; return nil }},
		{Serve, "smtp-tls", "JIFEN_SMTP_TLS", "starttls", "SMTP TLS: none, starttls or tls", false,
			func(c *Config, v string) error { c.SMTP.TLS = v; return oneOf(v, "none", "starttls", "tls") }},
		{Serve, "smtp-from", "JIFEN_SMTP_FROM", "noreply@jifen.example", "sender address of system mail", false,
			func(c *Config, v string) error { c.SMTP.From = v; return nil }},
		{Serve, "bounce-addr", "JIFEN_BOUNCE_ADDR", "", "listener of the inbound SMTP server taking bounces of mass mail, e.g. :2525 (empty: none)", false,
			func(c *Config, v string) error {
				c.BounceAddr = v
				if v == "" {
					return nil
				}
				return checkAddr(v)
			}},
		{Serve, "bounce-domain", "JIFEN_BOUNCE_DOMAIN", "", "domain of the VERP return paths (bounce+ID-TAG@domain); its MX points at the bounce listener", false,
			func(c *Config, v string) error {
				c.BounceDomain = strings.ToLower(strings.TrimSuffix(v, "."))
				if v != "" && (strings.ContainsAny(v, "@ /:") || !strings.Contains(v, ".")) {
					return errors.New("must be a domain name such as bounce.example.gov.cn")
				}
				return nil
			}},
		{Serve, "backup-dir", "JIFEN_BACKUP_DIR", "", "directory of the scheduled backups (empty: <data-dir>/backups; better another disk)", false,
			func(c *Config, v string) error { c.Backup.Dir = v; return nil }},
		{Serve, "backup-every", "JIFEN_BACKUP_EVERY", "weekly", "scheduled full backups: weekly, daily or off", false,
			func(c *Config, v string) error {
				c.Backup.Every = map[string]time.Duration{"weekly": 7 * 24 * time.Hour, "daily": 24 * time.Hour}[v]
				return oneOf(v, "weekly", "daily", "off")
			}},
		{Serve, "backup-keep-weekly", "JIFEN_BACKUP_KEEP_WEEKLY", "5", "backups kept: the newest of each of this many weeks", false,
			func(c *Config, v string) (err error) { c.Backup.KeepWeekly, err = nonNegative(v); return err }},
		{Serve, "backup-keep-monthly", "JIFEN_BACKUP_KEEP_MONTHLY", "12", "backups kept: the newest of each of this many months", false,
			func(c *Config, v string) (err error) { c.Backup.KeepMonthly, err = nonNegative(v); return err }},
	}
}

func nonNegative(v string) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, errors.New("must be a whole number, 0 or more")
	}
	return n, nil
}

// Register adds the options of groups as flags to fs. Load must be called
// after fs.Parse to merge flags, environment and defaults.
func Register(fs *flag.FlagSet, groups Group) {
	for _, o := range options() {
		if o.group&groups == 0 {
			continue
		}
		fs.String(o.flag, "", fmt.Sprintf("%s (env %s, default %q)", o.help, o.env, o.def))
	}
}

// Load builds the configuration: a flag given on the command line wins, then
// the environment variable, then the default. Every value is validated.
func Load(fs *flag.FlagSet, getenv func(string) string) (*Config, error) {
	c := &Config{}
	var errs []error
	for _, o := range options() {
		v := o.def
		if e := getenv(o.env); e != "" {
			v = e
		}
		if fs != nil {
			if f := fs.Lookup(o.flag); f != nil && isSet(fs, o.flag) {
				v = f.Value.String()
			}
		}
		if err := o.set(c, strings.TrimSpace(v)); err != nil {
			errs = append(errs, fmt.Errorf("--%s / %s = %q: %w", o.flag, o.env, v, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if c.DB == "" {
		c.DB = filepath.Join(c.DataDir, "jifen.db")
	}
	if c.LogDir == "" {
		c.LogDir = filepath.Join(c.DataDir, "logs")
	}
	if c.Backup.Dir == "" {
		c.Backup.Dir = filepath.Join(c.DataDir, "backups")
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return nil, errors.New("JIFEN_TLS_CERT and JIFEN_TLS_KEY must be given together")
	}
	if c.BounceAddr != "" && c.BounceDomain == "" {
		return nil, errors.New("JIFEN_BOUNCE_ADDR needs JIFEN_BOUNCE_DOMAIN, the domain of the return paths")
	}
	if c.HashConcurrent < 0 {
		return nil, errors.New("JIFEN_HASH_CONCURRENCY must not be negative")
	}
	return c, nil
}

func isSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) {
		if f.Name == name {
			set = true
		}
	})
	return set
}

// Entry is one line of the printed configuration.
type Entry struct{ Flag, Env, Value string }

// Entries returns the effective configuration with secrets masked, for
// `jifen config`.
func (c *Config) Entries() []Entry {
	vals := map[string]string{
		"data-dir": c.DataDir, "db": c.DB, "internet-addr": c.InternetAddr, "office-addr": c.OfficeAddr,
		"metrics-addr": c.MetricsAddr, "log-format": c.LogFormat, "log-level": c.LogLevel,
		"log-dir": c.LogDir, "log-max-mb": strconv.Itoa(c.LogMaxMB), "log-keep-days": strconv.Itoa(c.LogKeepDays),
		"oncall-emails": strings.Join(c.OncallEmails, ","),
		"surfaces":      strings.Join(c.Surfaces, ","), "worker": strconv.FormatBool(c.Worker),
		"tls-cert": c.TLSCert, "tls-key": c.TLSKey, "trusted-proxies": joinPrefixes(c.TrustedProxies),
		"master-key": c.MasterKey, "body-limit": strconv.FormatInt(c.BodyLimit, 10),
		"max-in-flight": strconv.Itoa(c.MaxInFlight),
		"login-rate":    strconv.FormatFloat(c.LoginRate, 'g', -1, 64), "login-burst": strconv.Itoa(c.LoginBurst),
		"public-rate-limit": strconv.FormatFloat(c.PublicRate, 'g', -1, 64), "public-url": c.PublicURL,
		"mail-approval-over": strconv.Itoa(c.MailApprovalOver), "mail-claim-lease": c.MailClaimLease.String(),
		"objection-rate": strconv.FormatFloat(c.ObjectionRate, 'g', -1, 64), "objection-burst": strconv.Itoa(c.ObjectionBurst),
		"hash-concurrency": strconv.Itoa(c.HashConcurrent), "migrate": strconv.FormatBool(c.Migrate),
		"shutdown-grace": c.ShutdownGrace.String(),
		"smtp-host":      c.SMTP.Host, "smtp-more": strings.Join(c.SMTP.More, ","), "smtp-port": strconv.Itoa(c.SMTP.Port), "smtp-username": c.SMTP.Username,
		"smtp-password": c.SMTP.Password, "smtp-tls": c.SMTP.TLS, "smtp-from": c.SMTP.From,
		"bounce-addr": c.BounceAddr, "bounce-domain": c.BounceDomain,
		"backup-dir": c.Backup.Dir, "backup-every": backupEvery(c.Backup.Every),
		"backup-keep-weekly": strconv.Itoa(c.Backup.KeepWeekly), "backup-keep-monthly": strconv.Itoa(c.Backup.KeepMonthly),
	}
	var out []Entry
	for _, o := range options() {
		v := vals[o.flag]
		if o.secret {
			v = mask(o.flag, v)
		}
		out = append(out, Entry{Flag: o.flag, Env: o.env, Value: v})
	}
	return out
}

func backupEvery(d time.Duration) string {
	switch d {
	case 7 * 24 * time.Hour:
		return "weekly"
	case 24 * time.Hour:
		return "daily"
	}
	return "off"
}

// Serves reports whether this process serves surface s.
func (c *Config) Serves(s string) bool { return slices.Contains(c.Surfaces, s) }

func (c *Config) setSurfaces(v string) error {
	c.Surfaces = nil
	for _, s := range strings.Split(v, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if !slices.Contains(AllSurfaces, s) {
			return fmt.Errorf("unknown surface %q (known: %s)", s, strings.Join(AllSurfaces, ", "))
		}
		if !slices.Contains(c.Surfaces, s) {
			c.Surfaces = append(c.Surfaces, s)
		}
	}
	if len(c.Surfaces) == 0 {
		return errors.New("no surface given")
	}
	return nil
}

func (c *Config) setProxies(v string) error {
	c.TrustedProxies = nil
	for _, s := range strings.Split(v, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, err2 := netip.ParseAddr(s)
			if err2 != nil {
				return err
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		c.TrustedProxies = append(c.TrustedProxies, p.Masked())
	}
	return nil
}

func joinPrefixes(ps []netip.Prefix) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, ",")
}

func mask(flag, v string) string {
	if v == "" {
		return ""
	}
	if flag == "db" {
		if strings.HasPrefix(v, "postgres") {
			if i := strings.Index(v, "://"); i >= 0 {
				rest := v[i+3:]
				if at := strings.LastIndex(rest, "@"); at >= 0 {
					user := rest[:at]
					if c := strings.IndexByte(user, ':'); c >= 0 {
						user = user[:c] + ":*****"
					}
					return v[:i+3] + user + rest[at:]
				}
			}
		}
		return v
	}
	return "*****"
}

func checkAddr(v string) error {
	if _, _, err := net.SplitHostPort(v); err != nil {
		return fmt.Errorf("not host:port: %w", err)
	}
	return nil
}

func oneOf(v string, allowed ...string) error {
	if slices.Contains(allowed, v) {
		return nil
	}
	return fmt.Errorf("must be one of %s", strings.Join(allowed, ", "))
}

func positiveInt(v string) (int64, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, err
	}
	if n <= 0 {
		return 0, errors.New("must be positive")
	}
	return n, nil
}
