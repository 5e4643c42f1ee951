package app_test

import (
	"strings"
	"testing"

	"jifen/internal/app/apptest"
)

// Issue 10, item 9: the static directory is not listed on either listener;
// its files are still served.
func TestStaticDirectoryIsNotListed(t *testing.T) {
	a := apptest.Start(t)
	for _, base := range []string{a.Internet, a.Office} {
		c := a.Client(base)
		for _, p := range []string{"/static/", "/static/%2e/"} {
			if r := c.Get(p); r.Status != 404 || strings.Contains(r.Body, `<a href="app.css">`) {
				t.Errorf("%s%s: %d\n%s", base, p, r.Status, r.Body)
			}
		}
		if r := c.Get("/static/app.css"); r.Status != 200 {
			t.Errorf("%s/static/app.css: %d", base, r.Status)
		}
	}
}
