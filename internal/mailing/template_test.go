package mailing_test

import (
	"strings"
	"testing"

	"jifen/internal/mailing"
	"jifen/internal/platform/apperr"
)

func TestCompileRefuses(t *testing.T) {
	base := mailing.Template{Subject: "{{.Name}}，您好", Text: "正文", HTML: "<p>正文</p>"}
	cases := []struct {
		name        string
		edit        func(*mailing.Template)
		field, want string
	}{
		{"parse error", func(t *mailing.Template) { t.Text = "第一行\n第二行 {{if .Name}}没有结束" }, "text", "第 2 行"},
		{"unknown function", func(t *mailing.Template) { t.HTML = "<p>{{shout .Name}}</p>" }, "html", "第 1 行"},
		{"unknown variable", func(t *mailing.Template) { t.Text = "一\n二\n{{.Score}}" }, "text", "第 3 行：未知变量 .Score"},
		{"ID number", func(t *mailing.Template) { t.Subject = "{{.IDNumber}}" }, "subject", "个人敏感信息"},
		{"phone", func(t *mailing.Template) { t.HTML = "<p>{{$.Phone}}</p>" }, "html", "个人敏感信息"},
		{"a field of a variable", func(t *mailing.Template) { t.Text = "{{.Name.First}}" }, "text", "没有下级字段"},
		{"field inside with", func(t *mailing.Template) { t.Text = "{{with .Employer}}{{.Name}}{{end}}" }, "text", "$.Name"},
		{"range", func(t *mailing.Template) { t.Text = "{{range .Name}}x{{end}}" }, "text", "range"},
		{"define", func(t *mailing.Template) { t.Text = `{{define "x"}}a{{end}}b` }, "text", "define"},
		{"no text", func(t *mailing.Template) { t.Text = " " }, "text", "纯文本"},
		{"no subject", func(t *mailing.Template) { t.Subject = "" }, "subject", "主题"},
		{"subject on two lines", func(t *mailing.Template) { t.Subject = "a\nb" }, "subject", "换行"},
		{"bad date at render", func(t *mailing.Template) { t.Text = "{{date .Name}}" }, "text", "模板无法生成邮件"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tm := base
			c.edit(&tm)
			_, err := mailing.Compile(tm)
			ae := apperr.As(err)
			if err == nil || ae.Code != apperr.Invalid || len(ae.Fields) == 0 {
				t.Fatalf("Compile = %v, want a field error", err)
			}
			if f := ae.Fields[0]; f.Field != c.field || !strings.Contains(f.Message, c.want) {
				t.Fatalf("error %+v, want field %s containing %q", f, c.field, c.want)
			}
		})
	}
}

func TestRender(t *testing.T) {
	tm := mailing.Template{
		Subject: "{{default \"申请人\" .Name}}，{{.Year}} 年度积分落户提醒",
		Text:    "{{.Name}}：\n您在{{truncate 4 .Employer}}的申请状态为{{.Status}}。{{date \"2027-05-01\"}}前办理。\n{{if .UnsubscribeURL}}退订：{{.UnsubscribeURL}}{{end}}",
		HTML:    `<p>{{.Name}}</p><p>{{.Employer}}</p>{{with $.UnsubscribeURL}}<a href="{{.}}">退订</a>{{end}}`,
	}
	c, err := mailing.Compile(tm)
	if err != nil {
		t.Fatal(err)
	}
	r := mailing.Recipient{Email: "a@example.cn", Name: "张<三>", Vars: map[string]string{"employer": "北京甲乙丙丁公司", "year": "2027",
		"status": "审核完成"}}
	subj, html, text, err := c.Render(r, "https://jifen.example/mail/unsubscribe?t=x&y=1")
	if err != nil {
		t.Fatal(err)
	}
	if subj != "张<三>，2027 年度积分落户提醒" {
		t.Errorf("subject %q", subj)
	}
	if !strings.Contains(text, "您在北京甲乙…的申请状态为审核完成。2027年5月1日前办理。") || !strings.Contains(text, "退订：https://jifen.example/mail/unsubscribe?t=x&y=1") {
		t.Errorf("text %q", text)
	}
	if !strings.Contains(html, "<p>张&lt;三&gt;</p>") || !strings.Contains(html, `href="https://jifen.example/mail/unsubscribe?t=x&amp;y=1"`) {
		t.Errorf("html %q", html)
	}
	// Missing variables are empty; a default fills in.
	subj, _, _, err = c.Render(mailing.Recipient{Email: "b@example.cn"}, "")
	if err != nil || subj != "申请人， 年度积分落户提醒" {
		t.Errorf("subject without variables %q, %v", subj, err)
	}
	// A line break brought in by a variable never splits the subject.
	subj, _, _, _ = c.Render(mailing.Recipient{Email: "c@example.cn", Name: "x\r\nBcc: evil@example.cn"}, "")
	if strings.ContainsAny(subj, "\r\n") {
		t.Errorf("subject %q", subj)
	}
	// A mandatory notice carries no unsubscribe link, whatever is passed.
	tm.Mandatory = true
	c, err = mailing.Compile(tm)
	if err != nil {
		t.Fatal(err)
	}
	_, html, text, _ = c.Render(r, "https://jifen.example/mail/unsubscribe?t=x")
	if strings.Contains(text, "退订") || strings.Contains(html, "退订") {
		t.Errorf("mandatory notice with an unsubscribe link: %q %q", text, html)
	}
	pv, err := mailing.PreviewFor(tm, mailing.Recipient{})
	if err != nil || !strings.Contains(pv.Subject, "张三") {
		t.Fatalf("preview %+v, %v", pv, err)
	}
}

func TestUnsubscribeToken(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	tok := mailing.UnsubscribeToken(key, 42, "Zhang.San@Example.cn")
	id, email, ok := mailing.VerifyUnsubscribe(key, tok)
	if !ok || id != 42 || email != "zhang.san@example.cn" {
		t.Fatalf("verify = %d %q %v", id, email, ok)
	}
	payload, mac, _ := strings.Cut(tok, ".")
	other := mailing.UnsubscribeToken(key, 43, "zhang.san@example.cn")
	otherPayload, _, _ := strings.Cut(other, ".")
	flip := []byte(mac)
	if flip[0] == 'A' {
		flip[0] = 'B'
	} else {
		flip[0] = 'A'
	}
	for name, bad := range map[string]string{
		"another campaign, same MAC": otherPayload + "." + mac,
		"MAC altered":                payload + "." + string(flip),
		"MAC cut":                    payload + "." + mac[:10],
		"no MAC":                     payload,
		"empty":                      "",
		"garbage":                    "!!!.???",
	} {
		if _, _, ok := mailing.VerifyUnsubscribe(key, bad); ok {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, _, ok := mailing.VerifyUnsubscribe([]byte("another key of thirty-two bytes!"), tok); ok {
		t.Error("a token verified under another key")
	}
}

func TestValidEmail(t *testing.T) {
	for s, ok := range map[string]bool{
		"a@example.cn": true, " A.B+c@Sub.Example.COM ": true, "a@b": false, "@example.cn": false, "a@@example.cn": false,
		"张三 <a@example.cn>": false, "a@example..cn": false, "a@.example.cn": false, "a b@example.cn": false, "": false,
		"a@example.cn.": false, strings.Repeat("a", 250) + "@example.cn": false,
	} {
		if _, got := mailing.ValidEmail(s); got != ok {
			t.Errorf("ValidEmail(%q) = %v, want %v", s, got, ok)
		}
	}
	if mailing.Neutralize("=1+1") != "'=1+1" || mailing.Neutralize("-x") != "'-x" || mailing.Neutralize("abc") != "abc" {
		t.Error("Neutralize")
	}
}
