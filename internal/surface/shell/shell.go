// Package shell is what every surface shares around its own pages: the
// session cookie and the current user, login, logout, password change and
// second factor (as pages and as JSON), permission checks, health checks and
// the base page with navigation.
package shell

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"jifen/internal/account"
	"jifen/internal/actor"
	"jifen/internal/audit"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/clock"
	"jifen/internal/platform/db"
	"jifen/internal/platform/web"
	"jifen/internal/round"
	"jifen/internal/settings"
	"jifen/internal/surface/ui"
)

// Deps are the services a surface needs.
type Deps struct {
	DB       *db.DB
	Accounts *account.Service
	Audit    *audit.Log
	Settings *settings.Store
	Rounds   *round.Service
	UI       *ui.Renderer
	Clock    clock.Clock
	Log      *slog.Logger
	Limiter  *web.Limiter // login and registration attempts per client
	TLS      bool
	Demo     bool
	// Alerts are the firing alerts' names for the office banner (nil: none).
	Alerts func(ctx context.Context) []string
}

// Shell serves one zone: the internet (portal and public) or the office.
type Shell struct {
	Deps
	Zone    account.Zone
	Surface string // for pages: portal or office
	Prefix  string // "" or "/office"
	Cookie  string
	// Nav returns the navigation for a user on a path.
	Nav func(u *account.User, path string) []ui.Nav
}

// New returns the shell of a zone.
func New(d Deps, zone account.Zone) *Shell {
	s := &Shell{Deps: d, Zone: zone, Surface: "portal", Cookie: "jifen_session"}
	if zone == account.Office {
		s.Surface, s.Prefix, s.Cookie = "office", "/office", "jifen_office_session"
	}
	if d.TLS {
		s.Cookie = "__Host-" + s.Cookie
	}
	s.Nav = func(*account.User, string) []ui.Nav { return nil }
	return s
}

type currentKey struct{}

type current struct {
	session *account.Session
	user    *account.User
}

// Current returns the session and user of the request, if logged in (in any
// stage).
func Current(ctx context.Context) (*account.Session, *account.User) {
	if c, ok := ctx.Value(currentKey{}).(*current); ok {
		return c.session, c.user
	}
	return nil, nil
}

// User returns the fully logged-in user of the request, or nil.
func User(ctx context.Context) *account.User {
	se, u := Current(ctx)
	if se == nil || se.Stage != account.StageFull {
		return nil
	}
	return u
}

// Actor returns who acts in this request: the signed-in user with their
// roles, client address and request id (roles only once the login is
// complete), or an actor with no roles.
func Actor(ctx context.Context) actor.Actor {
	a := actor.From(ctx)
	if User(ctx) == nil {
		a.Roles = nil
	}
	return a
}

// Authn reads the session cookie and puts the session, the user and the
// audit actor into the request's context. It never refuses a request:
// RequireUser does that where a page needs a login.
func (s *Shell) Authn(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		who := actor.Actor{ClientAddr: web.ClientAddr(ctx), RequestID: web.RequestID(ctx)}
		if c, err := r.Cookie(s.Cookie); err == nil && c.Value != "" {
			se, u, err := s.Accounts.Authenticate(ctx, s.Zone, c.Value)
			switch {
			case err == nil:
				ctx = context.WithValue(ctx, currentKey{}, &current{se, u})
				who = u.ActorAt(who.ClientAddr, who.RequestID)
			case apperr.Is(err, apperr.Unauthorized):
				s.clearCookie(w)
				if errors.Is(err, account.ErrSessionReplaced) && !web.WantsJSON(r) {
					s.setFlash(w, "session_replaced") // shown on the login page the request is sent to
				}
			default:
				web.WriteError(w, r, err)
				return
			}
		}
		next.ServeHTTP(w, r.WithContext(actor.With(ctx, who)))
	})
}

func (s *Shell) setCookie(w http.ResponseWriter, token string) {
	http.SetCookie(w, &http.Cookie{Name: s.Cookie, Value: token, Path: "/", HttpOnly: true, Secure: s.TLS,
		SameSite: s.sameSite()})
}

func (s *Shell) clearCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: s.Cookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: s.TLS,
		SameSite: s.sameSite()})
}

func (s *Shell) sameSite() http.SameSite {
	if s.Zone == account.Office {
		return http.SameSiteStrictMode
	}
	return http.SameSiteLaxMode
}

// RequireUser wraps h: it needs a fully logged-in user holding perm (any
// user when perm is empty). Pages redirect to the login or to the step the
// session still owes; JSON gets 401. A user without the permission gets 403.
func (s *Shell) RequireUser(perm account.Permission, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		se, u := Current(r.Context())
		if se == nil {
			if web.WantsJSON(r) {
				web.WriteError(w, r, account.ErrNoSession)
				return
			}
			web.Redirect(w, r, withNext(s.Prefix+"/login", r.URL.RequestURI()))
			return
		}
		if se.Stage != account.StageFull {
			if web.WantsJSON(r) {
				web.WriteError(w, r, apperr.New(apperr.Forbidden, stageMessage(se.Stage)))
				return
			}
			web.Redirect(w, r, s.stagePath(se.Stage))
			return
		}
		if perm != "" && !u.Can(perm) {
			_ = s.Audit.Record(r.Context(), audit.Entry{Action: "access.denied", ObjectType: "route", ObjectID: r.Method + " " + r.URL.Path,
				Outcome: audit.Denied, Reason: "missing permission " + string(perm)})
			web.WriteError(w, r, apperr.New(apperr.Forbidden, "您没有访问此功能的权限"))
			return
		}
		h(w, r)
	})
}

func stageMessage(st account.Stage) string {
	if st == account.StageChangePassword {
		return "请先修改密码"
	}
	return "请先完成动态口令验证"
}

func (s *Shell) stagePath(st account.Stage) string {
	if st == account.StageChangePassword {
		return s.Prefix + "/password"
	}
	return s.Prefix + "/totp"
}

// safeNext keeps only same-site relative paths for redirects after login:
// a single "/" followed by a letter or digit, and no control character or
// backslash anywhere. Browsers drop tabs and newlines and read a
// backslash as "/", so "/<tab>/evil.example" and "/<backslash>evil" would
// leave the site.
func safeNext(p string) string {
	if len(p) < 2 || p[0] != '/' || !isASCIIAlnum(p[1]) ||
		strings.ContainsFunc(p, func(r rune) bool { return r < 0x20 || r == 0x7f || r == '\\' }) {
		return "/"
	}
	return p
}

func isASCIIAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// Page returns the base page for r: user, navigation, notices.
func (s *Shell) Page(r *http.Request, title string) *ui.Page {
	ctx := r.Context()
	p := &ui.Page{Title: title, Surface: s.Surface, Form: map[string]string{}, Fields: map[string]string{}}
	p.Helpdesk, _ = s.Settings.Get(ctx, settings.HelpdeskPhone)
	if s.Zone == account.Internet {
		p.Notice, _ = s.Settings.Get(ctx, settings.SiteNotice)
	}
	se, u := Current(ctx)
	if se != nil {
		p.LoggedIn = true
		p.UserName = u.DisplayName
		p.UserRole = account.RoleName(u.PrimaryRole())
		p.Demo = u.Demo
		if se.Stage == account.StageFull {
			p.Nav = s.Nav(u, r.URL.Path)
			if s.Zone == account.Office && s.Alerts != nil {
				p.Alerts = s.Alerts(ctx)
			}
		}
	}
	if p.Nav == nil && s.Zone == account.Internet {
		// The internet surface shows visitors (and people half way through
		// logging in) its public pages, the home and the calculator, on
		// every page, error pages included.
		p.Nav = s.Nav(nil, r.URL.Path)
	}
	if f, err := r.Cookie("jifen_flash"); err == nil {
		p.Flash = flashText(f.Value)
	}
	return p
}

// Render renders a page (and clears a shown flash message).
func (s *Shell) Render(w http.ResponseWriter, r *http.Request, status int, name string, p *ui.Page) {
	if p.Flash != "" {
		http.SetCookie(w, &http.Cookie{Name: "jifen_flash", Path: "/", MaxAge: -1})
	}
	s.UI.Render(w, r, status, name, p)
}

// ErrorPage renders an error page in the layout of every other page: the
// surface's header, navigation for the logged-in user, and footer. The
// application gives it to web.WithErrorPages. A flash message waiting for
// the next page is left for it.
func (s *Shell) ErrorPage(w http.ResponseWriter, r *http.Request, e web.ErrorPage) {
	p := s.Page(r, e.Message)
	p.Flash = ""
	p.Data = e
	s.UI.Render(w, r, e.Status, "error", p)
}

// Flash sets a one-time message shown on the next page, then redirects.
func (s *Shell) Flash(w http.ResponseWriter, r *http.Request, to, code string) {
	s.setFlash(w, code)
	web.Redirect(w, r, to)
}

func (s *Shell) setFlash(w http.ResponseWriter, code string) {
	http.SetCookie(w, &http.Cookie{Name: "jifen_flash", Value: code, Path: "/", HttpOnly: true, Secure: s.TLS,
		SameSite: http.SameSiteLaxMode, MaxAge: 60})
}

// flashes are the messages a flash cookie may name (the cookie holds a
// code, never text a third party could inject).
var flashes = map[string]string{
	"password_changed":  "密码已修改。",
	"logged_out_all":    "已退出所有设备，请重新登录。",
	"saved":             "已保存。",
	"carry_confirmed":   "已确认。",
	"carry_over":        "已开始从上一年度带入申请：申请人在单位确认关联后打开本年度申请，即可看到带入的内容。",
	"sent":              "测试邮件已放入发送队列，请查收。",
	"created":           "已创建。",
	"requested":         "申请已提交，等待安全管理员审核和另一名安全管理员审批。",
	"granted":           "已授权。",
	"approved":          "已审批通过。",
	"rejected":          "已驳回。",
	"revoked":           "已撤销。",
	"disabled":          "账号已停用。",
	"enabled":           "账号已启用。",
	"unlocked":          "已解除锁定。",
	"password_reset":    "密码已重置：新的一次性密码已发送到该账号登记的电子邮箱，不在本页显示。",
	"admin_requested":   "申请已提交：对管理员账号的操作须由另一名其他角色的管理员审批后生效。",
	"session_ended":     "已结束该会话。",
	"session_replaced":  "您的账号已在其他地方登录，本会话已退出。如非本人操作，请登录后立即修改密码。",
	"logged_out":        "您已安全退出。",
	"employer_verified": "已核验通过，系统已生成单位注册码。",
	"employer_rejected": "已记录不予核验。",
	"decision_failed":   "操作未完成：该单位已被处理，或未填写不通过理由。",
	// The discrepancy queue (数据比对结果排查) and the applicant's answers.
	"disc_accepted":          "已确认以比对结果为准。",
	"disc_requested":         "已要求申请人补充材料，系统已发送邮件通知。",
	"disc_override":          "已提出更正为申报值，等待另一名经办人员审批。",
	"disc_approved":          "已审批通过更正，申请积分已重新计算。",
	"disc_override_rejected": "已驳回更正，该差异回到待处理。",
	"correction_answered":    "补充说明已提交，请等待区人力社保局审核。",
	// Objections to a published list (异议/举报).
	"objection_lodged":   "您的异议已受理。请记下受理编号，凭编号查询办理进度和答复。",
	"objection_assigned": "已分配经办人员。",
	"objection_noted":    "调查记录已保存。",
	"objection_answered": "已作出答复，提出人可凭受理编号查看。",
	// The fraud register (虚假材料库).
	"fraud_proposed": "已登记，等待另一名经办人员审批后生效。",
	"fraud_approved": "已审批通过，该记录已生效，系统已发送邮件告知当事人。",
	"fraud_rejected": "已驳回该记录。",
	// The portal's case pages.
	"link_requested":       "已提交关联申请，请等待单位确认。",
	"draft_saved":          "已保存，积分估算已更新。",
	"attachment_added":     "材料已上传。",
	"attachment_removed":   "材料已删除。",
	"submitted":            "已提交单位，请等待单位审核。",
	"review_requested":     "复查申请已提交，请联系单位到区服务窗口提交证明材料。",
	"reg_code_regenerated": "已生成新的单位注册码，原注册码已失效。",
	"link_confirmed":       "已确认关联。",
	"link_rejected":        "已拒绝该关联申请，申请人将看到您填写的理由。",
	"link_unlinked":        "已解除关联。",
	"application_returned": "已退回申请人，申请人将看到退回理由。",
	"application_filed":    "已确认提交。",
	"review_forwarded":     "复查申请已转交区服务窗口。",
	"precheck_requested":   "已开始向各部门查询您的登记信息，通常几秒钟内完成。",
	"precheck_withdrawn":   "已撤回预核验授权，系统不会再为预核验查询您的信息。",
	"precheck_taken":       "已采用部门记录，积分估算已更新。",

	// Permission management (权限管理) and settings' two-person approval.
	"reviewed":          "已审核通过，等待另一名安全管理员审批。",
	"emergency_revoked": "紧急撤销已立即生效，等待安全管理员事后审核、审批。",
	"change_pending":    "修改已提交，须由另一名管理员审批后生效。",
}

func flashText(code string) string { return flashes[code] }
