package config

import (
	"flag"
	"strings"
	"testing"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestDefaults(t *testing.T) {
	c, err := Load(nil, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.DataDir != "./data" || c.InternetAddr != ":8080" || c.OfficeAddr != ":8081" ||
		c.MetricsAddr != "127.0.0.1:9090" || c.LogFormat != "text" || !c.Worker || !c.Migrate {
		t.Fatalf("defaults: %+v", c)
	}
	if c.DB != "data/jifen.db" {
		t.Fatalf("default DB %q", c.DB)
	}
	if !c.Serves("office") || !c.Serves("portal") {
		t.Fatal("default surfaces should include all")
	}
}

func TestFlagBeatsEnvBeatsDefault(t *testing.T) {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	Register(fs, All)
	if err := fs.Parse([]string{"--office-addr", "127.0.0.1:7001"}); err != nil {
		t.Fatal(err)
	}
	c, err := Load(fs, env(map[string]string{"JIFEN_OFFICE_ADDR": "127.0.0.1:7000", "JIFEN_INTERNET_ADDR": "127.0.0.1:7002"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.OfficeAddr != "127.0.0.1:7001" || c.InternetAddr != "127.0.0.1:7002" {
		t.Fatalf("got office %s internet %s", c.OfficeAddr, c.InternetAddr)
	}
}

func TestValidation(t *testing.T) {
	cases := map[string]map[string]string{
		"log format":  {"JIFEN_LOG_FORMAT": "xml"},
		"surface":     {"JIFEN_SURFACES": "portal,admin"},
		"address":     {"JIFEN_OFFICE_ADDR": "nonsense"},
		"proxy":       {"JIFEN_TRUSTED_PROXIES": "10.0.0.0/99"},
		"tls pair":    {"JIFEN_TLS_CERT": "a.pem"},
		"body limit":  {"JIFEN_BODY_LIMIT": "-1"},
		"login rate":  {"JIFEN_LOGIN_RATE": "0"},
		"worker bool": {"JIFEN_WORKER": "maybe"},
		"bounce addr": {"JIFEN_BOUNCE_ADDR": "2525", "JIFEN_BOUNCE_DOMAIN": "bounce.example.cn"},
		"bounce dom":  {"JIFEN_BOUNCE_ADDR": ":2525"},
		"bounce name": {"JIFEN_BOUNCE_ADDR": ":2525", "JIFEN_BOUNCE_DOMAIN": "bounce@example.cn"},
	}
	for name, e := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := Load(nil, env(e)); err == nil {
				t.Fatalf("%v accepted", e)
			}
		})
	}
}

func TestBounceListener(t *testing.T) {
	c, err := Load(nil, env(map[string]string{}))
	if err != nil || c.BounceAddr != "" || c.BounceDomain != "" {
		t.Fatalf("default: %q %q %v, want no listener", c.BounceAddr, c.BounceDomain, err)
	}
	c, err = Load(nil, env(map[string]string{"JIFEN_BOUNCE_ADDR": ":2525", "JIFEN_BOUNCE_DOMAIN": "Bounce.Example.CN."}))
	if err != nil || c.BounceAddr != ":2525" || c.BounceDomain != "bounce.example.cn" {
		t.Fatalf("set: %q %q %v", c.BounceAddr, c.BounceDomain, err)
	}
}

func TestEntriesMaskSecrets(t *testing.T) {
	c, err := Load(nil, env(map[string]string{
		"JIFEN_DB":         "postgres://jifen:s3cret@db.example:5432/jifen",
		"JIFEN_MASTER_KEY": "00112233",
	}))
	if err != nil {
		t.Fatal(err)
	}
	var all strings.Builder
	for _, e := range c.Entries() {
		all.WriteString(e.Env + "=" + e.Value + "\n")
	}
	s := all.String()
	if strings.Contains(s, "s3cret") || strings.Contains(s, "00112233") {
		t.Fatalf("secret leaked:\n%s", s)
	}
	if !strings.Contains(s, "JIFEN_DB=postgres://jifen:*****@db.example:5432/jifen") {
		t.Fatalf("masked DSN missing:\n%s", s)
	}
}

func TestRegisterOnlyTheGroupsAsked(t *testing.T) {
	names := func(g Group) []string {
		fs := flag.NewFlagSet("x", flag.ContinueOnError)
		Register(fs, g)
		var out []string
		fs.VisitAll(func(f *flag.Flag) { out = append(out, f.Name) })
		return out
	}
	if got := strings.Join(names(Store), " "); got != "data-dir db" {
		t.Fatalf("store flags: %s", got)
	}
	if got := strings.Join(names(Store|Log), " "); got != "data-dir db log-dir log-format log-keep-days log-level log-max-mb" {
		t.Fatalf("store and log flags: %s", got)
	}
	all := names(All)
	if len(all) != len(options()) {
		t.Fatalf("all groups register %d of %d options", len(all), len(options()))
	}
	for _, o := range options() {
		if o.group == 0 || o.group&All != o.group || o.group&(o.group-1) != 0 {
			t.Errorf("option %s is in group %b, want exactly one", o.flag, o.group)
		}
	}
	// An option whose flag is not registered is still read from the
	// environment and validated.
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	Register(fs, Store)
	if _, err := Load(fs, env(map[string]string{"JIFEN_LOG_FORMAT": "xml"})); err == nil {
		t.Fatal("an invalid log format was accepted because its flag was not registered")
	}
}
