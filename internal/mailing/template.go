package mailing

import (
	"bytes"
	"fmt"
	htmltemplate "html/template"
	"io"
	"regexp"
	"strconv"
	"strings"
	"text/template"
	"text/template/parse"
	"time"
	"unicode/utf8"

	"jifen/internal/platform/apperr"
	"jifen/internal/platform/clock"
)

// Template is a campaign's message: subject, HTML body and plain-text
// alternative in Go's template language, with the variables and functions
// of docs/mailing.md.
type Template struct {
	ID        int64
	Name      string
	Subject   string // html/template text, e.g. "{{.Name}}，您好"
	HTML      string
	Text      string // the plain-text alternative; required
	Mandatory bool   // a mandatory notice (round windows, results, corrections): no unsubscribe
	Version   int

	CreatedBy string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Variables are the template variables, by the name a template uses
// ({{.Name}}), with the Vars key they come from and their meaning. Nothing
// else is available: personal data (ID numbers, phone numbers) never is.
var Variables = []struct {
	Field, Key, Meaning string
}{
	{"Name", "name", "收件人姓名（单位经办人、工作人员为其账号显示名）"},
	{"Email", "", "收件人邮箱地址"},
	{"Employer", "employer", "所在用人单位名称"},
	{"District", "district", "所在区"},
	{"Year", "year", "申报年度"},
	{"Status", "status", "申请状态（中文，如“审核完成”）"},
	{"Role", "role", "工作人员角色（中文）"},
	{"UnsubscribeURL", "", "退订链接（强制通知为空）"},
}

func knownField(f string) bool {
	for _, v := range Variables {
		if v.Field == f {
			return true
		}
	}
	return false
}

// personalField reports whether a variable name asks for personal data
// that templates never get.
func personalField(f string) bool {
	f = strings.ToLower(f)
	for _, w := range []string{"id", "idnumber", "idcard", "phone", "mobile", "tel", "birth", "sex", "address", "password", "token"} {
		if f == w || strings.HasPrefix(f, w) && w != "id" {
			return true
		}
	}
	return false
}

// Funcs is the function set of templates, documented in docs/mailing.md:
//
//	default D V   V, or D when V is empty:        {{default "申请人" .Name}}
//	truncate N V  V cut to N characters with "…": {{truncate 20 .Employer}}
//	date V        a date "2006-01-02" (or a time) as 2006年1月2日
//	today         today's date in Beijing, as 2006年1月2日
//
// and the template language's own (if, with, eq, ne, and, or, not, len,
// print, printf).
func funcs(now func() time.Time) map[string]any {
	return map[string]any{
		"default": func(d string, v any) string {
			s := fmt.Sprint(v)
			if v == nil || s == "" {
				return d
			}
			return s
		},
		"truncate": func(n int, v string) string {
			if n < 0 || utf8.RuneCountInString(v) <= n {
				return v
			}
			return string([]rune(v)[:n]) + "…"
		},
		"date": func(v any) (string, error) {
			var t time.Time
			switch x := v.(type) {
			case time.Time:
				t = x.In(clock.Beijing)
			case string:
				if x == "" {
					return "", nil
				}
				p, err := time.Parse(time.DateOnly, x)
				if err != nil {
					return "", fmt.Errorf("date: %q is not a date YYYY-MM-DD", x)
				}
				t = p
			default:
				return "", fmt.Errorf("date: cannot format %T", v)
			}
			return t.Format("2006年1月2日"), nil
		},
		"today": func() string { return clock.BeijingDay(now()).Format("2006年1月2日") },
	}
}

// Compiled is a template ready to render.
type Compiled struct {
	T       Template
	subject *template.Template
	html    *htmltemplate.Template // nil when the template has no HTML part
	text    *template.Template
}

// Limits of a template's parts.
const (
	maxSubject  = 200
	maxBody     = 200 << 10
	maxTmplName = 100
)

var lineRE = regexp.MustCompile(`^template: [a-z]+:(\d+):(?:\d+:)? ?`)

// parseErr turns a parse error into a field error naming the part and the
// line.
func parseErr(field string, err error) error {
	msg := err.Error()
	line := "1"
	if m := lineRE.FindStringSubmatch(msg); m != nil {
		line = m[1]
		msg = msg[len(m[0]):]
	}
	return apperr.Field(field, fmt.Sprintf("第 %s 行：模板语法错误（%s）", line, msg))
}

// Compile parses the three parts with the documented function set and
// checks every variable against the known ones (Vars' keys, plus
// "UnsubscribeURL" and "Email"); an unknown variable or a parse error is
// an apperr.Field naming subject|html|text and the line.
func Compile(t Template) (*Compiled, error) {
	return compile(t, time.Now)
}

func compile(t Template, now func() time.Time) (*Compiled, error) {
	fm := funcs(now)
	var fe []apperr.FieldError
	add := func(err error) {
		if err != nil {
			fe = append(fe, apperr.As(err).Fields...)
		}
	}
	c := &Compiled{T: t}
	switch {
	case strings.TrimSpace(t.Subject) == "":
		add(apperr.Field("subject", "请填写邮件主题"))
	case utf8.RuneCountInString(t.Subject) > maxSubject || strings.ContainsAny(t.Subject, "\r\n"):
		add(apperr.Field("subject", fmt.Sprintf("主题不能超过%d个字，且不能换行", maxSubject)))
	default:
		st, err := template.New("subject").Funcs(fm).Option("missingkey=error").Parse(t.Subject)
		if err == nil {
			err = checkTree("subject", textTrees(st))
		} else {
			err = parseErr("subject", err)
		}
		add(err)
		c.subject = st
	}
	switch {
	case strings.TrimSpace(t.Text) == "":
		add(apperr.Field("text", "请填写纯文本正文（不显示网页格式的邮箱客户端将显示它）"))
	case len(t.Text) > maxBody || !utf8.ValidString(t.Text):
		add(apperr.Field("text", "纯文本正文过长或含有无效字符"))
	default:
		tt, err := template.New("text").Funcs(fm).Option("missingkey=error").Parse(t.Text)
		if err == nil {
			err = checkTree("text", textTrees(tt))
		} else {
			err = parseErr("text", err)
		}
		add(err)
		c.text = tt
	}
	if strings.TrimSpace(t.HTML) != "" {
		if len(t.HTML) > maxBody || !utf8.ValidString(t.HTML) {
			add(apperr.Field("html", "网页正文过长或含有无效字符"))
		} else {
			ht, err := htmltemplate.New("html").Funcs(fm).Option("missingkey=error").Parse(t.HTML)
			if err == nil {
				var trees []*parse.Tree
				for _, x := range ht.Templates() {
					trees = append(trees, x.Tree)
				}
				err = checkTree("html", trees)
			} else {
				err = parseErr("html", err)
			}
			add(err)
			c.html = ht
		}
	}
	if len(fe) > 0 {
		return nil, apperr.Fields(fe)
	}
	// A render with a sample recipient finds what parsing cannot: the HTML
	// escaper's context errors, a function given the wrong kind of value.
	if _, _, _, err := c.Render(SampleRecipient, "https://example.invalid/mail/unsubscribe?t=sample"); err != nil {
		return nil, err
	}
	return c, nil
}

// SampleRecipient is the recipient of previews and of Compile's trial
// render.
var SampleRecipient = Recipient{Email: "zhang.san@example.cn", Name: "张三", Vars: map[string]string{
	"name": "张三", "employer": "北京示例科技有限公司", "district": "海淀区", "year": "2026", "status": "审核完成",
	"role": "市人力社保局经办人员"}}

// checkTree walks the parse trees of one part: every field must be a known
// variable, read from the top ({{.Name}} or {{$.Name}}); define, template
// and range are refused (there is nothing to range over).
func checkTree(field string, ts []*parse.Tree) error {
	if len(ts) > 1 {
		return apperr.Field(field, "第 1 行：不支持 define/block 定义子模板")
	}
	for _, t := range ts {
		if t == nil || t.Root == nil {
			continue
		}
		if err := walk(field, t, t.Root, false); err != nil {
			return err
		}
	}
	return nil
}

func textTrees(t *template.Template) []*parse.Tree {
	var out []*parse.Tree
	for _, x := range t.Templates() {
		out = append(out, x.Tree)
	}
	return out
}

func lineOf(tr *parse.Tree, n parse.Node) string {
	loc, _ := tr.ErrorContext(n)
	parts := strings.Split(loc, ":")
	if len(parts) >= 2 {
		if _, err := strconv.Atoi(parts[1]); err == nil {
			return parts[1]
		}
	}
	return "1"
}

func walk(field string, tr *parse.Tree, n parse.Node, inner bool) error {
	fail := func(n parse.Node, msg string) error {
		return apperr.Field(field, fmt.Sprintf("第 %s 行：%s", lineOf(tr, n), msg))
	}
	checkField := func(n parse.Node, ident []string) error {
		name := ident[0]
		switch {
		case personalField(name):
			return fail(n, fmt.Sprintf("变量 .%s 属于个人敏感信息（身份证号、手机号等），邮件模板不能使用", name))
		case !knownField(name):
			return fail(n, fmt.Sprintf("未知变量 .%s；可用变量：%s", name, fieldList()))
		case len(ident) > 1:
			return fail(n, fmt.Sprintf("变量 .%s 没有下级字段", name))
		}
		return nil
	}
	switch x := n.(type) {
	case nil:
		return nil
	case *parse.ListNode:
		if x == nil {
			return nil
		}
		for _, c := range x.Nodes {
			if err := walk(field, tr, c, inner); err != nil {
				return err
			}
		}
	case *parse.ActionNode:
		return walk(field, tr, x.Pipe, inner)
	case *parse.PipeNode:
		if x == nil {
			return nil
		}
		for _, c := range x.Cmds {
			if err := walk(field, tr, c, inner); err != nil {
				return err
			}
		}
	case *parse.CommandNode:
		for _, a := range x.Args {
			if err := walk(field, tr, a, inner); err != nil {
				return err
			}
		}
	case *parse.FieldNode:
		if inner {
			return fail(x, fmt.Sprintf("在 with 中请用 $.%s 引用变量", x.Ident[0]))
		}
		return checkField(x, x.Ident)
	case *parse.VariableNode:
		if len(x.Ident) > 1 {
			if x.Ident[0] != "$" {
				return fail(x, "不支持自定义变量的字段")
			}
			return checkField(x, x.Ident[1:])
		}
	case *parse.ChainNode:
		return fail(x, "不支持该写法")
	case *parse.IfNode:
		return walkBranch(field, tr, &x.BranchNode, inner, inner)
	case *parse.WithNode:
		return walkBranch(field, tr, &x.BranchNode, true, inner)
	case *parse.RangeNode:
		return fail(x, "不支持 range（没有可循环的变量）")
	case *parse.TemplateNode:
		return fail(x, "不支持 template 引用子模板")
	}
	return nil
}

func walkBranch(field string, tr *parse.Tree, b *parse.BranchNode, innerList, innerElse bool) error {
	if err := walk(field, tr, b.Pipe, innerElse); err != nil {
		return err
	}
	if err := walk(field, tr, b.List, innerList); err != nil {
		return err
	}
	return walk(field, tr, b.ElseList, innerElse)
}

func fieldList() string {
	var b strings.Builder
	for i, v := range Variables {
		if i > 0 {
			b.WriteString("、")
		}
		b.WriteString("." + v.Field)
	}
	return b.String()
}

// data is what a template sees for recipient r: every known variable, ""
// when r has none.
func data(r Recipient, unsubscribeURL string) map[string]any {
	m := map[string]any{}
	for _, v := range Variables {
		if v.Key != "" {
			m[v.Field] = r.Vars[v.Key]
		}
	}
	if r.Name != "" {
		m["Name"] = r.Name
	}
	m["Email"] = r.Email
	m["UnsubscribeURL"] = unsubscribeURL
	return m
}

// Render renders for one recipient; unsubscribeURL is "" for a mandatory
// template. The subject is one line: a line break a variable brought in
// becomes a space.
func (c *Compiled) Render(r Recipient, unsubscribeURL string) (subject, html, text string, err error) {
	if c.T.Mandatory {
		unsubscribeURL = ""
	}
	d := data(r, unsubscribeURL)
	run := func(field string, exec func(io.Writer) error) (string, error) {
		var b bytes.Buffer
		if err := exec(&b); err != nil {
			return "", apperr.Field(field, "模板无法生成邮件（"+err.Error()+"）")
		}
		return b.String(), nil
	}
	if subject, err = run("subject", func(w io.Writer) error { return c.subject.Execute(w, d) }); err != nil {
		return "", "", "", err
	}
	subject = strings.Join(strings.Fields(subject), " ")
	if text, err = run("text", func(w io.Writer) error { return c.text.Execute(w, d) }); err != nil {
		return "", "", "", err
	}
	if c.html != nil {
		if html, err = run("html", func(w io.Writer) error { return c.html.Execute(w, d) }); err != nil {
			return "", "", "", err
		}
	}
	return subject, html, text, nil
}

// Preview is a template rendered for the sample recipient (or another).
type Preview struct {
	Subject, HTML, Text string
}

// PreviewFor compiles t and renders it for r (SampleRecipient when r has no
// address), with a placeholder unsubscribe link.
func PreviewFor(t Template, r Recipient) (*Preview, error) {
	c, err := Compile(t)
	if err != nil {
		return nil, err
	}
	if r.Email == "" {
		r = SampleRecipient
	}
	s, h, x, err := c.Render(r, "https://example.invalid/mail/unsubscribe?t=preview")
	if err != nil {
		return nil, err
	}
	return &Preview{Subject: s, HTML: h, Text: x}, nil
}
