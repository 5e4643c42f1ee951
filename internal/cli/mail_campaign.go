package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"jifen/internal/actor"
	"jifen/internal/app"
	"jifen/internal/mailing"
	"jifen/internal/platform/mail"
)

const mailSendUsage = `Usage:
  jifen mail send --list NAME --subject S --template F.html [--text F.txt] [--name N] [--rate N] [--mandatory]
Creates a campaign to the list NAME with the subject S (a template: {{.Name}}
and the other variables of docs/mailing.md) and the HTML body of F.html (the
plain-text alternative from --text, or the HTML without its tags), starts it
as the server's own operator (audited as cli:<user>, no second approval) and
prints its id. A running 'jifen serve' with JIFEN_SMTP_HOST set sends it.`

// runMailSend creates and starts a campaign from the console.
func runMailSend(ctx context.Context, env Env, args []string) error {
	fs := flags("mail send", env, operatorConfig)
	list := fs.String("list", "", "the recipient list's name")
	subject := fs.String("subject", "", "the subject (a template)")
	file := fs.String("template", "", "the HTML body, a file (a template)")
	textFile := fs.String("text", "", "the plain-text body, a file (default: the HTML without tags)")
	name := fs.String("name", "", "the campaign's name (default: the subject)")
	rate := fs.Int("rate", 0, "messages a second (default 50)")
	mandatory := fs.Bool("mandatory", false, "a mandatory notice: no unsubscribe link, sent to suppressed addresses too")
	fs.Usage = func() { fmt.Fprintln(env.Stderr, mailSendUsage); fs.PrintDefaults() }
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *list == "" || *subject == "" || *file == "" {
		return errors.New("--list, --subject and --template are required")
	}
	body, err := os.ReadFile(*file)
	if err != nil {
		return err
	}
	text := htmlToText(string(body))
	if *textFile != "" {
		b, err := os.ReadFile(*textFile)
		if err != nil {
			return err
		}
		text = string(b)
	}
	if *name == "" {
		*name = *subject
	}
	return withApp(ctx, env, fs, func(ctx context.Context, a *app.App) error {
		by, err := mailActor(ctx, a, "")
		if err != nil {
			return err
		}
		ctx = actor.With(ctx, by)
		l, err := a.Mailing.ByName(ctx, *list)
		if err != nil {
			return err
		}
		t, err := a.Mailing.SaveTemplate(ctx, by, mailing.Template{Name: fmt.Sprintf("%s（命令行 %s）", *name, filepath.Base(*file)),
			Subject: *subject, HTML: string(body), Text: text, Mandatory: *mandatory})
		if err != nil {
			return err
		}
		c, err := a.Campaigns.Create(ctx, by, mailing.Input{Name: *name, ListID: l.ID, TemplateID: t.ID, Rate: *rate})
		if err != nil {
			return err
		}
		if c, err = a.Campaigns.Start(ctx, by, c.ID, c.Version, false); err != nil {
			return err
		}
		fmt.Fprintln(env.Stdout, c.ID)
		return nil
	})
}

var (
	tagRE   = regexp.MustCompile(`(?s)<(script|style)[^>]*>.*?</(script|style)>|<[^>]+>`)
	blankRE = regexp.MustCompile(`\n{3,}`)
)

// htmlToText is a plain-text alternative of an HTML body: tags dropped,
// entities decoded, block ends as line breaks.
func htmlToText(h string) string {
	h = regexp.MustCompile(`(?i)<br\s*/?>|</p>|</div>|</li>|</h[1-6]>|</tr>`).ReplaceAllString(h, "$0\n")
	t := html.UnescapeString(tagRE.ReplaceAllString(h, ""))
	lines := strings.Split(t, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimSpace(l)
	}
	return strings.TrimSpace(blankRE.ReplaceAllString(strings.Join(lines, "\n"), "\n\n"))
}

const mailReportUsage = `Usage:
  jifen mail report --campaign ID
Prints a campaign's figures as JSON: recipients, sent, deferred, bounced,
failed and the rest of docs/mailing.md's statistics.`

// runMailReport prints a campaign's figures.
func runMailReport(ctx context.Context, env Env, args []string) error {
	fs := flags("mail report", env, operatorConfig)
	id := fs.Int64("campaign", 0, "the campaign's id")
	fs.Usage = func() { fmt.Fprintln(env.Stderr, mailReportUsage); fs.PrintDefaults() }
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *id <= 0 || fs.NArg() > 0 {
		return errors.New("--campaign ID (a positive number) is required")
	}
	return withApp(ctx, env, fs, func(ctx context.Context, a *app.App) error {
		c, err := a.Campaigns.Get(ctx, *id)
		if err != nil {
			return err
		}
		st, err := a.Campaigns.Stats(ctx, c)
		if err != nil {
			return err
		}
		counts, err := a.Outbox.CampaignCounts(ctx, c.ID)
		if err != nil {
			return err
		}
		out := json.NewEncoder(env.Stdout)
		out.SetIndent("", "  ")
		return out.Encode(map[string]any{"campaign": c.ID, "name": c.Name, "status": c.Status, "recipients": st.Recipients,
			"suppressed": st.Suppressed, "queued": counts[mail.StatusQueued] + counts[mail.StatusSending], "sent": counts[mail.StatusSent],
			"failed": counts[mail.StatusFailed], "deferred": st.Deferred, "bounced": st.Bounced, "bounced_hard": st.BouncedHard,
			"bounced_soft": st.BouncedSoft, "complaints": st.Complaints, "unsubscribes": st.Unsubscribes,
			"delivery_rate": st.DeliveryRate, "bounce_rate": st.BounceRate})
	})
}
