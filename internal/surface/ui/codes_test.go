package ui

import "testing"

func TestUserAgentNamesBrowserAndSystem(t *testing.T) {
	for ua, want := range map[string]string{
		"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0.0.0 Safari/537.36":                           "Chrome 浏览器（无界面），Linux",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0 Safari/537.36 Edg/140.0":                   "Edge 浏览器，Windows",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Mobile/15E148 Safari/604.1": "Safari 浏览器，iOS",
		"Go-http-client/1.1": "程序接口（非浏览器）",
		"":                   "未知",
	} {
		if got := UserAgent(ua); got != want {
			t.Errorf("UserAgent(%q) = %q, want %q", ua, got, want)
		}
	}
}

func TestAuditReasonInChinese(t *testing.T) {
	for in, want := range map[string]string{
		"next=totp": "下一步：动态口令验证",
		"login=aud01 zone=office roles=[audit_admin]": "登录名：aud01，网络：政务外网，角色：审计管理员",
		"request=3 action=disable requested_by=7: 离职": "申请编号：3，操作：停用账号，申请人账号编号：7：离职",
		"密码错误":     "密码错误",
		"widget=9": "<code>widget=9</code>",
		"year=2026 employer_registration=2026-01-31T09:00+08:00": "年度：2026，单位注册：2026-01-31T09:00+08:00",
	} {
		if got := string(AuditReason(in)); got != want {
			t.Errorf("AuditReason(%q) = %q, want %q", in, got, want)
		}
	}
}
