package logs

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"jifen/internal/audit"
)

// Kinds of security events, the security log's "kind" field and the
// digest's groups.
const (
	KindLogin        = "login"
	KindLoginFailure = "login_failure"
	KindLockout      = "lockout"
	KindUnlock       = "unlock"
	KindLogout       = "logout"
	KindCredentials  = "credentials" // passwords, two-factor, account state
	KindPermission   = "permission"  // roles granted, revoked, requested; accounts created
	KindConfig       = "config"      // settings and connector configuration
	KindDenied       = "denied"      // access refused
	KindReveal       = "reveal"      // personal data shown to someone else
	KindAudit        = "audit"       // the audit trail exported or purged
)

// KindNames are the kinds in Chinese, for the office and the mail.
var KindNames = map[string]string{
	KindLogin: "登录成功", KindLoginFailure: "登录失败", KindLockout: "账号锁定", KindUnlock: "解除锁定",
	KindLogout: "退出登录", KindCredentials: "密码与账号变更", KindPermission: "权限变更", KindConfig: "配置变更",
	KindDenied: "拒绝访问", KindReveal: "查看个人信息", KindAudit: "审计日志导出或清理",
}

// SecurityKind classifies an audit entry; "" means it is not a security
// event (ordinary business actions stay in the audit trail only).
func SecurityKind(e audit.Entry) string {
	a := e.Action
	switch {
	case a == "account.login" && e.Outcome == audit.Success:
		return KindLogin
	case a == "account.login":
		return KindLoginFailure
	case e.Outcome == audit.Denied || strings.HasSuffix(a, "access.denied"):
		return KindDenied
	case a == "account.lockout":
		return KindLockout
	case a == "account.unlock":
		return KindUnlock
	case a == "account.logout" || a == "account.logout_everywhere" || a == "account.session_end" || a == "account.session_replaced":
		return KindLogout
	case strings.HasPrefix(a, "role.") || strings.HasPrefix(a, "account.admin_request") || a == "account.create":
		return KindPermission
	case strings.HasPrefix(a, "account."):
		return KindCredentials
	case strings.HasPrefix(a, "config.") || strings.HasPrefix(a, "settings.") || strings.HasPrefix(a, "agency.connector") ||
		a == "casework.limit.set":
		return KindConfig
	case strings.HasPrefix(a, "person.read_") || a == audit.ViewIDNumber:
		return KindReveal
	case strings.HasPrefix(a, "audit."):
		return KindAudit
	}
	return ""
}

// SecurityHook returns the audit trail's hook that writes each security
// event to log. It runs when the audit row is written, inside the
// caller's transaction: an event whose transaction then rolls back stays
// in the security log (an attempt is still worth seeing).
func SecurityHook(log *slog.Logger) func(audit.Entry) {
	return func(e audit.Entry) {
		kind := SecurityKind(e)
		if kind == "" {
			return
		}
		level := slog.LevelInfo
		if kind == KindLoginFailure || kind == KindLockout || kind == KindDenied {
			level = slog.LevelWarn
		}
		at := e.At
		if at.IsZero() {
			at = time.Now()
		}
		// The record is dated by the audit clock, so the security log and
		// the audit trail agree (and tests with a fake clock see it).
		r := slog.NewRecord(at, level, "security", 0)
		r.AddAttrs(slog.String("kind", kind), slog.String("action", e.Action), slog.String("outcome", e.Outcome),
			slog.String("user", e.ActorLogin), slog.String("role", e.ActorRole), slog.String("client", e.ClientAddr),
			slog.String("request_id", e.RequestID), slog.String("object", e.ObjectType+":"+e.ObjectID),
			slog.String("reason", e.Reason), slog.Int64("audit_id", e.ID))
		_ = log.Handler().Handle(context.Background(), r)
	}
}
