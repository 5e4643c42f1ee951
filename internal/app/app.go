// Package app assembles jifen: it opens the database, builds the services
// and the surfaces' handlers, and runs the listeners and the background
// worker. Tests start the real application on port 0 through it.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"sync"
	"time"

	"jifen/internal/accessstats"
	"jifen/internal/account"
	"jifen/internal/agencyops"
	"jifen/internal/audit"
	"jifen/internal/backup"
	"jifen/internal/check"
	"jifen/internal/config"
	"jifen/internal/dataexport"
	"jifen/internal/logs"
	"jifen/internal/mailing"
	"jifen/internal/monitor"
	"jifen/internal/objection"
	"jifen/internal/platform/clock"
	"jifen/internal/platform/crypto"
	"jifen/internal/platform/db"
	"jifen/internal/platform/jobs"
	"jifen/internal/platform/mail"
	"jifen/internal/platform/mail/bounce"
	"jifen/internal/platform/metrics"
	"jifen/internal/platform/password"
	"jifen/internal/platform/web"
	"jifen/internal/publicity"
	"jifen/internal/ranking"
	"jifen/internal/reports"
	"jifen/internal/round"
	"jifen/internal/settings"
	"jifen/internal/settlement"
	"jifen/internal/stats"
	"jifen/internal/statsreport"
	"jifen/internal/surface/office"
	"jifen/internal/surface/portal"
	"jifen/internal/surface/shell"
	"jifen/internal/surface/ui"
)

// Version is set at build time with -ldflags "-X jifen/internal/app.Version=...".
var Version = "dev"

// App is one jifen process.
type App struct {
	Cfg      *config.Config
	Log      *slog.Logger
	Clock    clock.Clock
	DB       *db.DB
	Keys     *crypto.Keyring
	Audit    *audit.Log
	Settings *settings.Store
	Accounts *account.Service
	Rounds   *round.Service
	// Ranking is the round's ranking: what-if, draft, commit.
	Ranking *ranking.Service
	// Settlement is the hand-off of the qualified list (落户办理).
	Settlement *settlement.Service
	Outbox     *mail.Outbox
	Mailer     *mail.Worker
	Cases      Cases
	// Connectors and Check are the cross-check system (业务比对).
	Connectors *check.Connectors
	Check      *check.Engine
	// Jobs is the durable job mechanism (River); the schedules and mail
	// delivery run on it.
	Jobs    *jobs.Jobs
	Metrics *metrics.Metrics
	// Monitor is the operations monitoring: minute samples, alert rules,
	// fault records, the quarterly report (docs/operations.md).
	Monitor *monitor.Service
	UI      *ui.Renderer
	Demo    bool

	// AgencyOps holds the agencies' connector settings, health and call log.
	AgencyOps *agencyops.Service
	// AccessStats counts the internet listener's traffic (accessstats.go).
	AccessStats *accessstats.Stats

	// PastLists holds the imported official lists of past years (历年公示).
	PastLists *publicity.History
	// Board serves every list to the public from memory; Publisher
	// publishes a committed ranking (积分公示).
	Board     *publicity.Board
	Publisher *publicity.Publisher
	// Stats answers the office's statistics queries (申报统计, docs/statistics.md);
	// Reports are the ready-made reports (常用统计报表).
	Stats   *stats.Service
	Reports *reports.Registry
	// Campaigns sends the mass mail (邮件群发, docs/mailing.md) over
	// mailPool.
	Campaigns *mailing.Campaigns
	mailPool  *mail.Pool
	bounces   *bounce.Listener // JIFEN_BOUNCE_ADDR; nil when off
	// publicLimiter limits each client on the public lists (nil: off).
	publicLimiter *web.Limiter
	// Objections holds objections to published lists (异议/举报).
	Objections *objection.Service
	// Mailing holds the mass-mail lists, suppression list and templates
	// (mailing.go); unsubscribeKey signs the unsubscribe links.
	Mailing        *mailing.Lists
	unsubscribeKey []byte
	// StatsReports holds the saved statistics queries and scheduled
	// reports (statsreport.go).
	StatsReports *statsreport.Service
	// LogFiles are the application and security log files and LogDigests
	// their daily digest (logs.go).
	LogFiles   *logs.Files
	LogDigests *logs.Digests
	// Backup makes, drills and restores backups (backup.go).
	Backup *backup.Service
	// DataExport is the applicants' whole-file download (dataexport.go).
	DataExport *dataexport.Service

	routes  routeTable // the route patterns of each listener (routes.go)
	servers []*server
	sim     *http.Server // the demo's in-process agencysim
	wg      sync.WaitGroup
	cancel  context.CancelFunc
}

type server struct {
	surface string
	srv     *http.Server
	ln      net.Listener
}

// Options adjust New.
type Options struct {
	Clock clock.Clock // default: the system clock
	Demo  bool
}

// New opens the database (migrating it, or refusing an old schema when
// migration at start is off), loads the keys and builds every service.
func New(ctx context.Context, cfg *config.Config, log *slog.Logger, opt Options) (*App, error) {
	if opt.Clock == nil {
		opt.Clock = clock.System{}
	}
	a := &App{Cfg: cfg, Log: log, Clock: opt.Clock, Demo: opt.Demo}
	if err := a.openLogs(); err != nil {
		return nil, err
	}
	log = a.Log
	var err error
	if a.DB, err = db.Open(ctx, cfg.DB); err != nil {
		return nil, err
	}
	if err := a.prepareSchema(ctx); err != nil {
		_ = a.DB.Close()
		return nil, err
	}
	keys, created, err := crypto.LoadKeyring(cfg.DataDir, cfg.MasterKey)
	if err != nil {
		_ = a.DB.Close()
		return nil, fmt.Errorf("keys: %w", err)
	}
	if created {
		log.Warn("generated a new master key; keep a copy of it outside this machine", "file", cfg.DataDir+"/"+crypto.MasterKeyFile)
	}
	a.Keys = keys
	hasher, err := password.NewHasher(keys.Pepper(), cfg.HashConcurrent)
	if err != nil {
		_ = a.DB.Close()
		return nil, err
	}
	a.Audit = audit.New(a.DB, a.Clock)
	a.Outbox = mail.NewOutbox(a.DB, a.Clock)
	a.wireLogs()
	a.Settings = settings.New(a.DB, a.Audit, a.Clock, 5*time.Second)
	a.Accounts = account.NewService(a.DB, a.Audit, a.Clock, hasher, keys, a.Settings)
	a.Rounds = round.NewService(a.DB, a.Audit, a.Clock)
	a.Ranking = ranking.NewService(a.DB, a.Audit, a.Clock, a.Rounds)
	a.Rounds.WithRanking(a.Ranking)
	a.PastLists = publicity.NewHistory(a.DB, a.Audit, a.Clock)
	a.Jobs = jobs.New(a.DB, log)
	a.Accounts.WithMail(a.Outbox)
	a.AgencyOps = agencyops.New(a.DB, a.Audit, a.Clock, keys)
	a.AccessStats = accessstats.New(a.DB, a.Clock)
	if err := a.buildCases(); err != nil {
		_ = a.DB.Close()
		return nil, err
	}
	a.buildCarryOver()
	a.buildCheck()
	a.buildCasefile()
	a.buildPublicity()
	a.buildStats()
	a.buildMailing()
	if err := a.buildObjections(); err != nil {
		_ = a.DB.Close()
		return nil, err
	}
	if a.Mailer, err = a.buildMailer(); err != nil {
		_ = a.DB.Close()
		return nil, err
	}
	if err := a.buildCampaigns(); err != nil {
		_ = a.DB.Close()
		return nil, err
	}
	a.buildStatsReports()
	a.buildBackup()
	if err := a.buildDataExport(); err != nil {
		_ = a.DB.Close()
		return nil, err
	}
	a.registerSchedules()
	a.Metrics = metrics.New()
	a.buildMonitor()
	a.registerLogMetrics()
	a.Metrics.RegisterDB("writer", a.DB.Writer())
	if a.DB.Reader() != a.DB.Writer() {
		a.Metrics.RegisterDB("reader", a.DB.Reader())
	}
	if a.UI, err = ui.New(); err != nil {
		_ = a.DB.Close()
		return nil, err
	}
	web.SetLogger(log)
	return a, nil
}

func (a *App) prepareSchema(ctx context.Context) error {
	if a.Cfg.Migrate {
		applied, err := a.DB.Migrate(ctx)
		if err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		if len(applied) > 0 {
			a.Log.Info("applied migrations", "versions", applied)
		}
	}
	return a.DB.CheckSchema(ctx)
}

func (a *App) deps() shell.Deps {
	return shell.Deps{DB: a.DB, Accounts: a.Accounts, Audit: a.Audit, Settings: a.Settings, Rounds: a.Rounds, UI: a.UI,
		Clock: a.Clock, Log: a.Log, Limiter: web.NewLimiter(a.Cfg.LoginRate, a.Cfg.LoginBurst), TLS: a.Cfg.TLSCert != "", Demo: a.Demo,
		Alerts: a.Monitor.Banner}
}

// InternetHandler is the handler of the internet listener: portal and public.
func (a *App) InternetHandler() http.Handler {
	sh := shell.New(a.deps(), account.Internet)
	mux := web.NewMux()
	portal.New(sh, a.portalServices()).Register(mux)
	a.dataExportPages(sh).Register(mux)
	a.rememberRoutes("internet", mux)
	return a.wrap("internet", mux, sh)
}

// OfficeHandler is the handler of the government-network listener.
func (a *App) OfficeHandler() http.Handler {
	sh := shell.New(a.deps(), account.Office)
	mux := web.NewMux()
	office.New(sh, a.Cases.Employers, a.Cases.Applications, a.Outbox, a.smtpDescription()).
		WithCheck(a.Check).WithDiscrepancies(a.Cases.Discrepancies).WithPersons(a.Cases.Persons).WithAgencies(a.AgencyOps).
		WithRanking(a.Ranking).WithPublisher(a.Publisher).WithSettlement(a.Settlement).
		WithQueues(a.Jobs.Depth).WithFraud(a.Cases.Fraud).WithCasefile(a.Cases.Casefile).WithReview(a.Cases.Review).
		WithCasework(a.Cases.Casework, a.Cases.Calendar).WithObjections(a.Objections).WithMailing(a.Mailing).
		WithCampaigns(a.Campaigns, mailCatalog{a.Mailing}).Register(mux)
	office.NewStats(sh, a.AccessStats).Register(mux)
	office.NewStatistics(sh, a.Stats, a.Cfg.StatsMinCell, a.Cfg.StatsMaxExport).Register(mux)
	office.NewOps(sh, a.Monitor, a.backupLines).Register(mux)
	office.NewSavedReports(sh, a.StatsReports).Register(mux)
	a.reportPages(sh).Register(mux)
	a.logPages(sh).Register(mux)
	a.carryOverRoutes(sh, mux)
	a.rememberRoutes("office", mux)
	return a.wrap("office", mux, sh)
}

func (a *App) wrap(surface string, mux *web.Mux, sh *shell.Shell) http.Handler {
	ips := web.NewClientIPs(a.Cfg.TrustedProxies)
	return web.Chain(mux,
		web.WithRequest(ips),
		web.WithErrorPages(sh.ErrorPage),
		a.Metrics.HTTP(surface),
		// Past the machine's capacity, a quick 503 rather than every
		// request late (JIFEN_MAX_IN_FLIGHT).
		web.NewOverload(a.Cfg.MaxInFlight, 100*time.Millisecond).Middleware(),
		a.accessStats(surface),
		web.AccessLog(a.Log, surface),
		web.ServerErrors(a.Log),
		web.Recover(a.Log, func(w http.ResponseWriter, r *http.Request) {
			web.WriteError(w, r, errors.New("panic"))
		}),
		web.SecurityHeaders(a.Cfg.TLSCert != ""),
		web.BodyLimit(a.Cfg.BodyLimit, mux),
		web.ValidInput,
		auditRoute,
		web.CrossOrigin(),
		sh.Authn,
	)
}

// Start opens the listeners of the configured surfaces and, if configured,
// the worker. It returns once every listener accepts connections.
func (a *App) Start(ctx context.Context) error {
	ctx, a.cancel = context.WithCancel(ctx)
	type plan struct {
		surface, addr string
		h             func() http.Handler
	}
	var plans []plan
	if a.Cfg.Serves("portal") || a.Cfg.Serves("public") {
		plans = append(plans, plan{"internet", a.Cfg.InternetAddr, a.InternetHandler})
	}
	if a.Cfg.Serves("office") {
		plans = append(plans, plan{"office", a.Cfg.OfficeAddr, a.OfficeHandler})
	}
	if a.Cfg.Serves("metrics") {
		plans = append(plans, plan{"metrics", a.Cfg.MetricsAddr, func() http.Handler {
			mux := http.NewServeMux()
			mux.Handle("GET /metrics", a.Metrics.Handler())
			mux.HandleFunc("GET /healthz", shell.Healthz)
			if a.Cfg.Pprof {
				// The metrics listener is on the internal network only
				// (JIFEN_METRICS_ADDR): the profiler is never on a surface.
				mux.HandleFunc("GET /debug/pprof/", pprof.Index)
				mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
				mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
				mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
			}
			return mux
		}})
	}
	for _, p := range plans {
		ln, err := net.Listen("tcp", p.addr)
		if err != nil {
			a.closeListeners()
			return fmt.Errorf("listen %s on %s: %w", p.surface, p.addr, err)
		}
		srv := &http.Server{
			Handler:           p.h(),
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       60 * time.Second,
			WriteTimeout:      120 * time.Second,
			IdleTimeout:       120 * time.Second,
			MaxHeaderBytes:    64 << 10,
			ErrorLog:          slog.NewLogLogger(a.Log.Handler(), slog.LevelWarn),
		}
		a.servers = append(a.servers, &server{surface: p.surface, srv: srv, ln: ln})
	}
	for _, s := range a.servers {
		a.wg.Add(1)
		go func(s *server) {
			defer a.wg.Done()
			var err error
			if a.Cfg.TLSCert != "" && s.surface != "metrics" {
				err = s.srv.ServeTLS(s.ln, a.Cfg.TLSCert, a.Cfg.TLSKey)
			} else {
				err = s.srv.Serve(s.ln)
			}
			if err != nil && !errors.Is(err, http.ErrServerClosed) {
				a.Log.Error("listener stopped", "surface", s.surface, "err", err)
			}
		}(s)
		a.Log.Info("listening", "surface", s.surface, "addr", s.ln.Addr().String())
	}
	if a.bounces != nil {
		if err := a.bounces.Start(); err != nil {
			a.closeListeners()
			return fmt.Errorf("bounce listener on %s: %w", a.Cfg.BounceAddr, err)
		}
		a.Log.Info("listening", "surface", "bounces", "addr", a.bounces.Addr())
	}
	if a.Demo {
		if err := a.StartAgencySim(ctx); err != nil {
			a.closeListeners()
			return fmt.Errorf("agencysim: %w", err)
		}
	}
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		a.runReadFlusher(ctx)
	}()
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		a.runAccessFlusher(ctx)
	}()
	if err := a.Board.Reload(ctx); err != nil {
		a.Log.Warn("public board: first load failed; it is tried again every half minute", "err", err)
	}
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		a.runBoardReloader(ctx)
	}()
	// The statistics cube (every application in memory) where statistics
	// are asked: the office surface and the worker's ready-made reports. An
	// internet node neither loads nor refreshes it.
	if a.Cfg.Serves("office") || a.Cfg.Worker {
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			a.runStatsRefresher(ctx)
		}()
	}
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		a.runMonitorCollector(ctx)
	}()
	if a.Cfg.Worker {
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			a.runWorker(ctx)
		}()
	}
	return nil
}

// Addr returns the bound address of a listener: "internet", "office" or
// "metrics" (useful with port 0).
func (a *App) Addr(surface string) string {
	for _, s := range a.servers {
		if s.surface == surface {
			return s.ln.Addr().String()
		}
	}
	return ""
}

func (a *App) closeListeners() {
	for _, s := range a.servers {
		_ = s.ln.Close()
	}
	a.servers = nil
}

// Shutdown stops accepting requests, lets those in flight finish within
// ctx, stops the worker and closes the database.
func (a *App) Shutdown(ctx context.Context) error {
	var errs []error
	for _, s := range a.servers {
		if err := s.srv.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", s.surface, err))
		}
	}
	if a.cancel != nil {
		a.cancel()
	}
	a.wg.Wait()
	if a.sim != nil {
		_ = a.sim.Close()
	}
	if a.bounces != nil {
		_ = a.bounces.Close()
	}
	if a.mailPool != nil {
		_ = a.mailPool.Close()
	}
	errs = append(errs, a.DB.Close())
	if a.LogFiles != nil {
		errs = append(errs, a.LogFiles.Close())
	}
	return errors.Join(errs...)
}
