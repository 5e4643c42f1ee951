package mail

import (
	"strings"
	"testing"
)

func TestMaskedHidesOneTimeSecretsOnly(t *testing.T) {
	const token = "q7Yb2_kLx-9ZpR4mN8sT1vW3cD6fH0jA"
	m := Masked(Message{Subject: "邀请 " + token, Text: "请打开 https://jifen.example.gov.cn/employer/invite/" + token + "\n" +
		"单位注册码 ABCD-EFGH-JKLM-NPQR，邮箱 colleague@example.cn，2026-11-30", HTML: `<a href="/employer/invite/` + token + `">`})
	for _, s := range []string{m.Subject, m.Text, m.HTML} {
		if strings.Contains(s, token) || strings.Contains(s, token[:20]) || !strings.Contains(s, SecretMask) {
			t.Errorf("not masked: %q", s)
		}
	}
	for _, keep := range []string{"https://jifen.example.gov.cn/employer/invite/", "ABCD-EFGH-JKLM-NPQR", "colleague@example.cn", "2026-11-30"} {
		if !strings.Contains(m.Text, keep) {
			t.Errorf("%q masked too", keep)
		}
	}
}

// A reset password is shorter than a token but named by its label: the
// value is masked, the label and the rest of the message stay.
func TestMaskedHidesLabelledSecrets(t *testing.T) {
	const pw = "Kp3#x9!Lm2"
	for _, text := range []string{"一次性密码：" + pw + "\n\n请尽快登录", "一次性密码: " + pw, "<p>验证码：" + pw + "</p>"} {
		got := Masked(Message{Text: text}).Text
		if strings.Contains(got, pw) || !strings.Contains(got, SecretMask) {
			t.Errorf("%q masked as %q", text, got)
		}
	}
	if got := Masked(Message{Text: "一次性密码：" + pw + "\n\n请尽快登录"}).Text; got != "一次性密码："+SecretMask+"\n\n请尽快登录" {
		t.Errorf("masked %q", got)
	}
}
