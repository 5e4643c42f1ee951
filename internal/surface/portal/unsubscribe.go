package portal

import (
	"net/http"
	"strconv"
	"strings"

	"jifen/internal/actor"
	"jifen/internal/mailing"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/web"
)

// registerUnsubscribe adds the unsubscribe page of campaign mail: the link
// of a message (GET, a page with a confirm button, so that a mail scanner
// following links unsubscribes nobody) and its POST, which is also the
// RFC 8058 one-click target (List-Unsubscribe-Post: List-Unsubscribe=One-Click
// sent by the mail provider, without cookies). Public: the signed token is
// the permission.
func (p *Portal) registerUnsubscribe(mux *web.Mux) {
	if p.svc.Mailing == nil || len(p.svc.UnsubscribeKey) == 0 {
		return
	}
	mux.HandleFunc("GET /mail/unsubscribe", p.unsubscribePage)
	mux.HandleFunc("POST /mail/unsubscribe", p.unsubscribe)
}

type unsubscribeView struct {
	Token string
	Email string // masked
	Done  bool
}

// maskEmail shows enough of an address for its owner to recognise it.
func maskEmail(e string) string {
	local, domain, ok := strings.Cut(e, "@")
	if !ok {
		return "***"
	}
	r := []rune(local)
	if len(r) <= 2 {
		return string(r[:1]) + "***@" + domain
	}
	return string(r[:2]) + "***@" + domain
}

var badUnsubscribe = apperr.New(apperr.NotFound, "退订链接无效或已损坏，请复制邮件中的完整链接后重试")

func (p *Portal) unsubscribePage(w http.ResponseWriter, r *http.Request) {
	t := r.URL.Query().Get("t")
	_, email, ok := mailing.VerifyUnsubscribe(p.svc.UnsubscribeKey, t)
	if !ok {
		web.WriteError(w, r, badUnsubscribe)
		return
	}
	pg := p.sh.Page(r, "退订群发邮件")
	pg.Data = unsubscribeView{Token: t, Email: maskEmail(email)}
	p.sh.Render(w, r, http.StatusOK, "portal_unsubscribe", pg)
}

func (p *Portal) unsubscribe(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	_ = r.ParseForm() // the token may be in the query alone (one-click)
	t := r.URL.Query().Get("t")
	if t == "" {
		t = r.PostForm.Get("t")
	}
	campaign, email, ok := mailing.VerifyUnsubscribe(p.svc.UnsubscribeKey, t)
	if !ok {
		web.WriteError(w, r, badUnsubscribe)
		return
	}
	by := actor.Actor{Login: "public:unsubscribe", ClientAddr: web.ClientAddr(r.Context()), RequestID: web.RequestID(r.Context())}
	ctx := actor.With(r.Context(), by)
	if err := p.svc.Mailing.Suppress(ctx, by, email, mailing.SourceUnsubscribe, "campaign "+strconv.FormatInt(campaign, 10)); err != nil {
		web.WriteError(w, r, err)
		return
	}
	if p.svc.Unsubscribed != nil {
		// The campaign's figures count it; a failure there loses a count,
		// never the unsubscribe.
		_ = p.svc.Unsubscribed(ctx, campaign)
	}
	pg := p.sh.Page(r, "已退订群发邮件")
	pg.Data = unsubscribeView{Email: maskEmail(email), Done: true}
	p.sh.Render(w, r, http.StatusOK, "portal_unsubscribe", pg)
}
