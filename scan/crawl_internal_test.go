package scan

import (
	"net/url"
	"slices"
	"testing"
)

const linksPage = `<!doctype html><base href="/app/">
<a href="x">x</a> <a href="/abs">abs</a> <a href=" https://other.example/o ">other</a>
<a href="#frag">frag</a> <a href="">empty</a> <a>none</a> <a href="mailto:a@b">m</a> <a href="javascript:go()">j</a>
<area href="area"> <iframe src="frame?q=1"></iframe> <frame src="//bank.example/f2">
<form action="search"></form> <form method="post" action="/post"></form> <form method="GET" action="get"></form>
<a href="%zz">bad</a> <base href="/ignored/">`

func TestParseLinks(t *testing.T) {
	page, _ := url.Parse("https://bank.example/dir/page")
	var got []string
	for _, u := range parseLinks([]byte(linksPage), page) {
		got = append(got, u.String())
	}
	want := []string{
		"https://bank.example/app/x", "https://bank.example/abs", "https://other.example/o",
		"https://bank.example/app/area", "https://bank.example/app/frame?q=1", "https://bank.example/f2",
		"https://bank.example/app/search", "https://bank.example/app/get",
	}
	if !slices.Equal(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
}

func TestActionLink(t *testing.T) {
	for _, tt := range []struct {
		uri  string
		want bool
	}{
		{"/items/3/delete", true}, {"/items/3?action=remove", true}, {"/user/disable", true},
		{"/cancel-order?id=1", true}, {"/password_reset", true},
		{"/deleted-items", false}, {"/removals", false}, {"/cancellation-policy", false}, {"/items/3", false},
	} {
		if got := actionLink.MatchString(tt.uri); got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.uri, got, tt.want)
		}
	}
}

func FuzzParseLinks(f *testing.F) {
	f.Add([]byte(linksPage))
	f.Add([]byte(`<base href="javascript:x"><a href="y">`))
	f.Add([]byte(`<a href="//[::1">`))
	page, _ := url.Parse("https://bank.example/dir/page")
	f.Fuzz(func(t *testing.T, body []byte) {
		links := parseLinks(body, page)
		if len(links) > maxLinks {
			t.Fatalf("%d links, want at most %d", len(links), maxLinks)
		}
		for _, u := range links {
			if u.Scheme != "http" && u.Scheme != "https" {
				t.Fatalf("link %q: scheme %q", u, u.Scheme)
			}
		}
	})
}
