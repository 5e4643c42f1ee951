package office

import (
	"net/http"

	"jifen/internal/account"
	"jifen/internal/platform/mail"
	"jifen/internal/platform/web"
)

// registerMail adds the mail log: the outbox as operations staff see it,
// readable even when no SMTP server is configured, with one-time secrets
// masked.
func (o *Office) registerMail(mux *web.Mux) {
	mux.Handle("GET /office/ops/mail", o.sh.RequireUser(account.PermConfigManage, o.mailLog))
	mux.Handle("POST /office/ops/mail/{id}/retry", o.sh.RequireUser(account.PermConfigManage, o.mailRetry))
}

type mailCount struct {
	Status mail.Status
	Name   string
	N      int
}

type mailView struct {
	Names    map[mail.Status]string
	SMTP     string
	Counts   []mailCount
	Messages []mail.Message
	Status   mail.Status
	To       string
}

var mailStatusNames = map[mail.Status]string{mail.StatusQueued: "待发送", mail.StatusSending: "发送中", mail.StatusSent: "已发送", mail.StatusFailed: "发送失败"}

func (o *Office) mailLog(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	v := mailView{Names: mailStatusNames, SMTP: o.smtp, Status: mail.Status(q.Get("status")), To: q.Get("to")}
	counts, err := o.outbox.Counts(r.Context())
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	for _, s := range mail.Statuses {
		v.Counts = append(v.Counts, mailCount{Status: s, Name: mailStatusNames[s], N: counts[s]})
	}
	if v.Messages, err = o.outbox.List(r.Context(), mail.Filter{Status: v.Status, To: v.To, Limit: 100}); err != nil {
		web.WriteError(w, r, err)
		return
	}
	// Operations staff see what was sent, never a secret it carried (an
	// invitation's token would let them act as the invited person).
	for i := range v.Messages {
		v.Messages[i] = mail.Masked(v.Messages[i])
	}
	p := o.sh.Page(r, "邮件日志")
	p.Data = v
	o.sh.Render(w, r, http.StatusOK, "office_mail", p)
}

func (o *Office) mailRetry(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	if err := o.outbox.Retry(r.Context(), id); err != nil {
		web.WriteError(w, r, err)
		return
	}
	o.sh.Flash(w, r, "/office/ops/mail", "saved")
}
