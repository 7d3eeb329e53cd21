package demo_test

import (
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/forgeproof/forgeproof/internal/demo"
)

// attackPage is the attacker site's page at path, for the bank at
// https://localhost:8443.
func attackPage(t *testing.T, opts demo.AttackerOptions, path string) string {
	t.Helper()
	rec := httptest.NewRecorder()
	demo.NewAttacker("https://localhost:8443/", opts).ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
	if rec.Code != 200 {
		t.Fatalf("GET %s: got status %d, want 200", path, rec.Code)
	}
	return rec.Body.String()
}

// A text/plain form sends name=value: the page must split the JSON body
// so that the "=" lands inside a string.
func TestTextPlainFormBody(t *testing.T) {
	page := attackPage(t, demo.AttackerOptions{}, "/text-plain")
	m := regexp.MustCompile(`name='([^']*)' value='([^']*)'`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no name/value pair in the page:\n%s", page)
	}
	if got := m[1] + "=" + m[2]; got != demo.TextPlainBody {
		t.Errorf("got body %s, want %s", got, demo.TextPlainBody)
	}
	if !strings.Contains(page, `enctype="text/plain" action="https://localhost:8443/api/transfers"`) {
		t.Errorf("the form does not post text/plain to the API:\n%s", page)
	}
}

func TestAttackPagesTarget(t *testing.T) {
	tests := []struct {
		name, path string
		want       []string
	}{
		{"urlencoded form", "/form", []string{`<form method="post" action="https://localhost:8443/transfer" target="sink">`, `document.forms[0].submit()`, `href="/"`}},
		{"multipart form", "/multipart", []string{`enctype="multipart/form-data" action="https://localhost:8443/transfer"`}},
		{"no-cors fetch", "/fetch", []string{`fetch("https://localhost:8443" + "/api/transfers"`, `mode: "no-cors", credentials: "include"`}},
		{"no-cors fetch form", "/fetch-form", []string{`fetch("https://localhost:8443" + "/transfer"`, `new URLSearchParams`}},
		{"image", "/img", []string{`<img src="https://localhost:8443/transfer?to=mallory&amp;amount=100"`}},
		{"login", "/login", []string{`action="https://localhost:8443/login"`, `name="username" value="mallory"`, `name="password" value="demo"`}},
		{"index", "/", []string{`href="/text-plain"`, `href="/img"`, `<code>https://localhost:8443</code>`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			page := attackPage(t, demo.AttackerOptions{}, tt.path)
			for _, w := range tt.want {
				if !strings.Contains(page, w) {
					t.Errorf("page lacks %q:\n%s", w, page)
				}
			}
		})
	}
	// Every listed attack has a page, and nothing else does.
	for _, a := range demo.Attacks {
		attackPage(t, demo.AttackerOptions{}, a.Path)
	}
	rec := httptest.NewRecorder()
	demo.NewAttacker("https://localhost:8443", demo.AttackerOptions{}).ServeHTTP(rec, httptest.NewRequest("GET", "/nope", nil))
	if rec.Code != 404 {
		t.Errorf("GET /nope: got status %d, want 404", rec.Code)
	}
}

// The pages say whether the guard is on, and the same-site pages what
// makes them same-site (issue 12).
func TestAttackPagesExplain(t *testing.T) {
	tests := []struct {
		name    string
		opts    demo.AttackerOptions
		path    string
		want    []string
		notWant []string
	}{
		{"index, guard on", demo.AttackerOptions{}, "/", []string{"guard is <b>on</b>", "another site", "cross-site"}, []string{"OFF", "same-site</b>"}},
		{"index, guard off", demo.AttackerOptions{InsecureNoCSRF: true}, "/", []string{"guard is <b>OFF</b>", "these pages move money", "--insecure-no-csrf"}, []string{"should refuse", "none of them"}},
		{"same-site page", demo.AttackerOptions{SameSite: true}, "/form", []string{"another port of the bank", "<b>same-site</b>", "ports do not count", "allow-same-site"}, []string{"another site</b>"}},
		{"cross-site page", demo.AttackerOptions{}, "/form", []string{"another site</b>", "Sec-Fetch-Site: cross-site", "all attacks"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			page := attackPage(t, tt.opts, tt.path)
			for _, w := range tt.want {
				if !strings.Contains(page, w) {
					t.Errorf("page lacks %q:\n%s", w, page)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(page, w) {
					t.Errorf("page has %q:\n%s", w, page)
				}
			}
		})
	}
}
