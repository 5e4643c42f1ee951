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
