package shell

import "testing"

// Issue 10, item 9: only a single "/" followed by a letter or digit stays
// on the site; everything else goes home.
func TestSafeNextKeepsOnlySameSitePaths(t *testing.T) {
	for in, want := range map[string]string{
		"/me":                         "/me",
		"/office/users?page=2":        "/office/users?page=2",
		"/2026/list":                  "/2026/list",
		"/\t/evil.example":            "/",
		"//evil":                      "/",
		"/\\evil":                     "/",
		"/\\/evil":                    "/",
		"/%09/evil":                   "/",
		"/me\n/x":                     "/",
		"/.":                          "/",
		"/":                           "/",
		"":                            "/",
		"https://evil.example/":       "/",
		"/me?next=\\\\evil.example":   "/",
		"/ /evil":                     "/",
		"/-x":                         "/",
		"/me/application/housing#top": "/me/application/housing#top",
	} {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}
