package app_test

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"jifen/internal/account"
	"jifen/internal/app/apptest"
)

// chrome returns a page's header and footer: what every page of a surface
// shares. The current page's mark in the navigation and the request id
// differ from page to page and are left out.
func chrome(t *testing.T, body string) (header, footer string) {
	t.Helper()
	cut := func(from, to string) string {
		i, j := strings.Index(body, from), strings.Index(body, to)
		if i < 0 || j < i {
			t.Fatalf("no %s ... %s in %s", from, to, body)
		}
		return body[i : j+len(to)]
	}
	header = strings.ReplaceAll(cut(`<header class="site-header">`, `</header>`), ` aria-current="page"`, "")
	footer = regexp.MustCompile(`<p class="small">请求编号.*</p>`).ReplaceAllString(cut(`<footer class="site-footer">`, `</footer>`), "")
	return header, footer
}

// TestErrorPagesShareTheLayout: a 404 and a 500 page carry the header,
// navigation and footer of every other page of their surface, in Chinese.
func TestErrorPagesShareTheLayout(t *testing.T) {
	a := apptest.Start(t)
	a.CreateUser("sysadmin1", account.SystemAdmin)
	c := a.Client(a.Office)
	a.LoginStaff(c, "sysadmin1", apptest.Password)

	home := c.Get("/office/")
	if home.Status != 200 {
		t.Fatalf("home: %d", home.Status)
	}
	header, footer := chrome(t, home.Body)
	if !strings.Contains(header, `class="main-nav"`) || !strings.Contains(header, "测试sysadmin1") || !strings.Contains(footer, "主办") {
		t.Fatalf("the home page has no navigation, user or footer:\n%s\n%s", header, footer)
	}

	notFound := c.Get("/office/nothing-here")
	// The mail log's table gone: the page fails inside its handler, with
	// the user logged in.
	if _, err := a.DB.Exec(context.Background(), `DROP TABLE mail_outbox`); err != nil {
		t.Fatal(err)
	}
	internal := c.Get("/office/ops/mail")
	for _, tc := range []struct {
		name   string
		r      *apptest.Response
		status int
		text   string
	}{
		{"404", notFound, 404, "页面不存在"},
		{"500", internal, 500, "系统内部错误"},
	} {
		if tc.r.Status != tc.status || !strings.Contains(tc.r.Body, tc.text) || !strings.Contains(tc.r.Body, `<html lang="zh-CN">`) ||
			!strings.Contains(tc.r.Body, "错误代码 "+strconv.Itoa(tc.status)) {
			t.Errorf("%s: %d\n%s", tc.name, tc.r.Status, tc.r.Body)
			continue
		}
		h, f := chrome(t, tc.r.Body)
		if h != header {
			t.Errorf("%s: header differs from the home page's:\n%s\nwant\n%s", tc.name, h, header)
		}
		if f != footer {
			t.Errorf("%s: footer differs from the home page's:\n%s\nwant\n%s", tc.name, f, footer)
		}
		if strings.Contains(tc.r.Body, "mail_outbox") {
			t.Errorf("%s: the internal cause is shown", tc.name)
		}
	}

	// The internet surface: a visitor's 404 looks like its home page.
	in := a.Client(a.Internet)
	portalHome := in.Get("/")
	ph, pf := chrome(t, portalHome.Body)
	r := in.Get("/no/such/page")
	h, f := chrome(t, r.Body)
	if r.Status != 404 || !strings.Contains(r.Body, "页面不存在") || h != ph || f != pf {
		t.Errorf("portal 404: %d\n%s\n%s\nwant\n%s\n%s", r.Status, h, f, ph, pf)
	}
}
