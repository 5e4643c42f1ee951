// Package cli holds jifen's subcommands, one file each. Main dispatches.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"sort"
	"strings"

	"jifen/internal/app"
	"jifen/internal/config"
)

// Env is what a command sees of the world; tests substitute it.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Getenv func(string) string
}

// command is one subcommand.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, env Env, args []string) error
}

func commands() []command {
	return []command{
		{"serve", "启动服务 start the listeners and the worker", runServe},
		{"migrate", "升级数据库结构 apply pending database migrations", runMigrate},
		{"config", "显示生效配置（隐藏密钥） print the effective configuration, secrets masked", runConfig},
		{"user", "管理工作人员账号 create, disable, enable, reset or unlock accounts", runUser},
		{"backup", "备份 full backup of database and attachments, then a restore drill", runBackup},
		{"restore", "恢复 restore a backup into an empty database (--force to overwrite)", runRestore},
		{"audit", "审计日志 verify the audit chain, purge rows past retention", runAudit},
		{"calc", "积分计算 score calculator JSON from stdin", runCalc},
		{"synth", "生成合成数据 fill the database with a synthetic population", runSynth},
		{"agencysim", "模拟委办局接口 serve the simulated partner agencies", runAgencysim},
		{"check", "业务比对 connect the agencies, start a run, work the queue", runCheck},
		{"round", "年度批次 list rounds, freeze a round, rank it (what-if or commit)", runRound},
		{"publicity", "积分公示 import a past year's official list; verify a receipt of a published list", runPublicity},
		{"mail", "邮件群发 import a mailing list from a CSV file", runMail},
		{"stats", "申报统计 the applications by dimensions and measures, as JSON", runStats},
		{"loadtest", "压力测试 run the mixed internet and office workload against running servers", runLoadtest},
		{"version", "显示版本 print the version", runVersion},
		{"help", "显示帮助 list the commands", nil},
	}
}

// Main runs the command named by args[0] and returns the exit code.
func Main(ctx context.Context, args []string, env Env) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(env.Stdout)
		return 0
	}
	for _, c := range commands() {
		if c.name == args[0] && c.run != nil {
			if err := c.run(ctx, env, args[1:]); err != nil {
				if err == flag.ErrHelp {
					return 0
				}
				fmt.Fprintf(env.Stderr, "jifen %s: %v\n", c.name, err)
				return 1
			}
			return 0
		}
	}
	fmt.Fprintf(env.Stderr, "jifen: unknown command %q\n\n", args[0])
	usage(env.Stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "jifen — 北京市积分落户管理信息系统 (%s)\n\nUsage: jifen <command> [flags]\n\nCommands:\n", app.Version)
	cs := commands()
	sort.SliceStable(cs, func(i, j int) bool { return false })
	for _, c := range cs {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\nRun 'jifen <command> -h' for the flags of one command.\n")
}

// flags returns a flag set for a command with the configuration flags of
// groups: only those the command reads, so that its help lists no other.
func flags(name string, env Env, groups config.Group) *flag.FlagSet {
	fs := flag.NewFlagSet("jifen "+name, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	config.Register(fs, groups)
	return fs
}

// The configuration a command reads: operator commands open the
// application (database, keys, logging) but never a listener.
const (
	operatorConfig = config.Store | config.App | config.Log
)

// actionOf returns the action named by the first argument of a command that
// has actions (jifen user create, jifen check start). Asked for help, it
// prints usage and returns flag.ErrHelp, which ends the command cleanly
// before anything is opened; a missing or unknown action prints usage and
// fails.
func actionOf(env Env, args []string, usage string, actions ...string) (string, error) {
	if len(args) > 0 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help") {
		fmt.Fprintln(env.Stderr, usage)
		return "", flag.ErrHelp
	}
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		fmt.Fprintln(env.Stderr, usage)
		return "", errors.New("missing action")
	}
	if !slices.Contains(actions, args[0]) {
		fmt.Fprintln(env.Stderr, usage)
		return "", fmt.Errorf("unknown action %q", args[0])
	}
	return args[0], nil
}

func loadConfig(fs *flag.FlagSet, env Env) (*config.Config, error) {
	return config.Load(fs, env.Getenv)
}

// newLogger builds the process logger from the configuration.
func newLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(strings.ToUpper(cfg.LogLevel)))
	opts := &slog.HandlerOptions{Level: lvl}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// openApp opens the application for an operator command (no listeners).
func openApp(ctx context.Context, cfg *config.Config, env Env) (*app.App, error) {
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return nil, err
	}
	return app.New(ctx, cfg, newLogger(cfg, env.Stderr), app.Options{})
}

// withApp opens the application with the configuration of fs (parsed),
// runs f on it as the operator on the command line, and closes it.
func withApp(ctx context.Context, env Env, fs *flag.FlagSet, f func(ctx context.Context, a *app.App) error) error {
	cfg, err := loadConfig(fs, env)
	if err != nil {
		return err
	}
	a, err := openApp(ctx, cfg, env)
	if err != nil {
		return err
	}
	defer a.DB.Close()
	return f(cliActor(ctx), a)
}

func runVersion(_ context.Context, env Env, _ []string) error {
	fmt.Fprintf(env.Stdout, "jifen %s\n", app.Version)
	return nil
}

func runConfig(_ context.Context, env Env, args []string) error {
	fs := flags("config", env, config.All)
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := loadConfig(fs, env)
	if err != nil {
		return err
	}
	for _, e := range cfg.Entries() {
		fmt.Fprintf(env.Stdout, "%-24s %-18s %s\n", e.Env, "--"+e.Flag, e.Value)
	}
	return nil
}

func runMigrate(ctx context.Context, env Env, args []string) error {
	fs := flags("migrate", env, config.Store)
	status := fs.Bool("status", false, "only show the schema status")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := loadConfig(fs, env)
	if err != nil {
		return err
	}
	if *status {
		cfg.Migrate = false
	}
	a, err := openDBOnly(ctx, cfg)
	if err != nil {
		return err
	}
	defer a.Close()
	st, err := a.Status(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "database %s: schema version %d, this binary %d, %d pending\n", a, st.Current, st.Latest, len(st.Pending))
	if *status {
		return nil
	}
	applied, err := a.Migrate(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "applied %v\n", applied)
	return nil
}
