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
<a href="%zz">bad</a> <base href="/ignored/"><script src="app.js"></script><script>inline()</script>`

func TestParseLinks(t *testing.T) {
	page, _ := url.Parse("https://bank.example/dir/page")
	var got []string
	links, scripts := parseLinks([]byte(linksPage), page)
	for _, u := range links {
		got = append(got, u.String())
	}
	if len(scripts) != 1 || scripts[0].String() != "https://bank.example/app/app.js" {
		t.Errorf("scripts: got %v, want [https://bank.example/app/app.js]", scripts)
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
		links, scripts := parseLinks(body, page)
		if len(links)+len(scripts) > maxLinks {
			t.Fatalf("%d links, want at most %d", len(links)+len(scripts), maxLinks)
		}
		for _, u := range append(links, scripts...) {
			if u.Scheme != "http" && u.Scheme != "https" {
				t.Fatalf("link %q: scheme %q", u, u.Scheme)
			}
		}
	})
}

func TestFindWebSockets(t *testing.T) {
	page, _ := url.Parse("https://bank.example:8443/app/page")
	tests := []struct {
		name, src string
		want      []string
	}{
		{"absolute wss", `connect("wss://bank.example:8443/live?x=1");`, []string{"https://bank.example:8443/live?x=1"}},
		{"absolute ws", `u = 'ws://bank.example/ws'`, []string{"http://bank.example/ws"}},
		{"relative", `new WebSocket("/socket")`, []string{"https://bank.example:8443/socket"}},
		{"relative to the page", `new WebSocket('updates')`, []string{"https://bank.example:8443/app/updates"}},
		{"template on location.host", "new WebSocket(`wss://${location.host}/feed`)", []string{"https://bank.example:8443/feed"}},
		{"template on window.location", "new WebSocket(`wss://${window.location.hostname}:9000/x`)", []string{"https://bank.example:9000/x"}},
		{"template with a computed scheme", "new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/t`)", []string{"https://bank.example:8443/t"}},
		{"concatenation", `new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/chat", ["v1"])`, []string{"https://bank.example:8443/chat"}},
		{"variable", `new WebSocket(url)`, nil},
		{"unknown template", "new WebSocket(`${base}/x`)", nil},
		{"unterminated", `new WebSocket("/a`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, u := range findWebSockets([]byte(tt.src), page) {
				got = append(got, u.String())
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func FuzzFindWebSockets(f *testing.F) {
	f.Add([]byte("new WebSocket(`wss://${location.host}/feed`)"))
	f.Add([]byte(`new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/chat")`))
	f.Add([]byte(`new WebSocket("wss://a/b") new WebSocket('x`))
	page, _ := url.Parse("https://bank.example/app/")
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, u := range findWebSockets(body, page) {
			if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				t.Fatalf("URL %q", u)
			}
		}
	})
}

func TestCrawlGroup(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"/list?page=2", "/list?page"},
		{"/list?page=3", "/list?page"},
		{"/wp-admin/admin.php?page=plugin-settings", "/wp-admin/admin.php?page=plugin-settings"},
		{"/index.php?route=/server/sql&db=a", "/index.php?db&route=/server/sql"},
		{"/index.php?route=%2Fserver%2Fsql", "/index.php?route=/server/sql"},
		{"/index.php?title=Main_Page&action=edit", "/index.php?action=edit&title"},
		{"/index.php?title=Other&action=edit", "/index.php?action=edit&title"},
		{"/index.php?r=site/login", "/index.php?r=site/login"},
		{"/doku.php?id=start&do=edit", "/doku.php?do=edit&id"},
		{"/items?id=7&id=8", "/items?id"},
		{"/search?q=a+b", "/search?q"},
		{"/", "/"},
	} {
		u, err := url.Parse(tt.in)
		if err != nil {
			t.Fatal(err)
		}
		if got := crawlGroup(u); got != tt.want {
			t.Errorf("crawlGroup(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
