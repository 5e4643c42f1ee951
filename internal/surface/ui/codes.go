package ui

import (
	"html/template"
	"regexp"
	"strings"

	"jifen/internal/actor"
	"jifen/internal/round"
)

// Codes of the system reach pages only through the helpers here, which
// give their Chinese names: a page never shows with_employer, audit_admin or
// check_run. An unknown code is shown in <code>, marked as a code.

// RoleName is the Chinese name of a role code ("system" is 系统自动处理).
func RoleName(code string) string {
	if code == "" {
		return ""
	}
	return actor.RoleName(actor.Role(code))
}

// objectNames are the Chinese names of the kinds of object the audit log
// records.
var objectNames = map[string]string{
	"user": "账号", "person": "申请人", "employer": "用人单位", "application": "申请", "employer_link": "单位关联",
	"round": "年度批次", "login": "登录", "discrepancy": "比对差异", "agency_connector": "委办局接口", "setting": "系统设置",
	"route": "页面或接口", "audit_log": "审计日志", "audit_archive": "审计日志归档", "check_run": "比对任务",
	"attachment": "申请材料", "review": "复查申请", "session": "会话", "mail": "邮件",
	"fraud_entry": "虚假材料库记录",
}

// ObjectName is the Chinese name of an audited object's kind.
func ObjectName(code string) string {
	if n, ok := objectNames[code]; ok {
		return n
	}
	return code
}

// reasonKeys name the fields of machine-written audit reasons
// ("login=x zone=office roles=[audit_admin]").
var reasonKeys = map[string]string{
	"login": "登录名", "zone": "网络", "roles": "角色", "role": "角色", "next": "下一步", "request": "申请编号",
	"action": "操作", "requested_by": "申请人账号编号", "year": "年度", "rulebook": "积分规则", "quota": "落户指标",
	"title": "名称", "run": "比对任务", "round": "年度批次", "scope": "范围", "mode": "方式", "status": "状态",
	"application": "申请编号", "agency": "委办局", "user": "账号编号", "count": "数量", "reason": "原因",
}

var reasonValues = map[string]map[string]string{
	"zone":   {"internet": "互联网", "office": "政务外网"},
	"next":   {"totp": "动态口令验证", "change_password": "修改密码", "": "无"},
	"action": {"reset_password": "重置密码", "disable": "停用账号", "enable": "启用账号"},
	"mode":   {"apply": "直接生效", "preview": "预览"},
	"scope":  {"round": "整批次", "application": "单件申请"},
}

var reasonPair = regexp.MustCompile(`^([a-z][a-z_]*)=("[^"]*"|\[[^\]]*\]|\S*)[\s,;]*`)

// AuditReason renders an audit record's reason: a person's words as they
// are; the fields jifen writes itself (key=value) by their Chinese names.
func AuditReason(reason string) template.HTML {
	rest := reason
	var parts []string
	for {
		m := reasonPair.FindStringSubmatch(rest)
		if m == nil {
			break
		}
		rest = rest[len(m[0]):]
		k, v := m[1], m[2]
		// "requested_by=3: 理由" — the colon starts the person's words.
		last := strings.HasSuffix(v, ":")
		v = strings.Trim(strings.TrimSuffix(v, ":"), `"`)
		parts = append(parts, reasonField(k, v))
		if last {
			break
		}
	}
	if len(parts) == 0 {
		return template.HTML(template.HTMLEscapeString(reason))
	}
	out := strings.Join(parts, "，")
	if rest = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(rest), ":")); rest != "" {
		out += "：" + template.HTMLEscapeString(rest)
	}
	return template.HTML(out)
}

func reasonField(k, v string) string {
	name, ok := reasonKeys[k]
	if !ok {
		if kn := round.Kind(k); kn.Valid() {
			name, ok = kn.Name(), true
		}
	}
	switch {
	case k == "roles" || k == "role":
		var names []string
		for _, r := range strings.Fields(strings.Trim(v, "[]")) {
			names = append(names, RoleName(r))
		}
		v = strings.Join(names, "、")
	case reasonValues[k] != nil:
		if n, found := reasonValues[k][v]; found {
			v = n
		} else {
			return template.HTMLEscapeString(name) + "：<code>" + template.HTMLEscapeString(v) + "</code>"
		}
	}
	if !ok {
		return "<code>" + template.HTMLEscapeString(k+"="+v) + "</code>"
	}
	return template.HTMLEscapeString(name + "：" + v)
}
