package csrf_test

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/forgeproof/forgeproof/csrf"
)

// The request shapes a cross-site page can send to a bypass pattern that
// names POST, in which real method-override middleware reads an override
// (Rack::MethodOverride 2.2, Express's method-override 3 with body-parser
// 2, PHP's $_POST under Symfony and Laravel, gorilla/handlers 1.5 and
// echo 4.16, Django's request.POST under hand-written middleware): each
// is not exempt, and its twin (the same shape without the override, or
// with one that names POST itself or a safe method) stays exempt, with the
// body intact. A cross-site page sends no custom header without a
// preflight, and only a CORS-safelisted Content-Type
// (application/x-www-form-urlencoded, multipart/form-data, text/plain,
// with any parameters the Fetch MIME parser accepts, duplicates included)
// or none (a no-cors fetch of an ArrayBuffer or a type-less Blob).
func TestBypassOverrideShapes(t *testing.T) {
	const none = "\x00" // no Content-Type line at all
	form := "application/x-www-form-urlencoded"
	part := func(boundary, name, value string) string {
		return "--" + boundary + "\r\nContent-Disposition: form-data; name=\"" + name + "\"\r\n\r\n" + value + "\r\n"
	}
	utf16le := func(s string) string {
		var b strings.Builder
		for _, u := range utf16.Encode([]rune(s)) {
			b.WriteByte(byte(u))
			b.WriteByte(byte(u >> 8))
		}
		return b.String()
	}
	for _, tt := range []struct {
		name     string
		target   string
		ctype    string
		body     string
		maxBytes int64
		header   []string
		refused  bool
	}{
		// Rack reads the body of a POST without a Content-Type, or with
		// an empty one, as a form (Rack::Request#form_data?).
		{name: "no Content-Type, _method=DELETE refused (Rack)", ctype: none, body: "_method=DELETE", refused: true},
		{name: "no Content-Type, _METHOD=put among bytes refused (Rack)", ctype: none, body: "\x01\x02&_METHOD=put&", refused: true},
		{name: "empty Content-Type, _method=DELETE refused (Rack)", ctype: "", body: "_method=DELETE", refused: true},
		{name: "no Content-Type, over the form limit refused (fails closed)", ctype: none, body: strings.Repeat("x", 65), maxBytes: 64, refused: true},
		{name: "no Content-Type, payload=x exempt", ctype: none, body: "payload=x"},
		{name: "no Content-Type, binary body within the limit exempt", ctype: none, body: "\x00\x01\xffbinary", maxBytes: 64},
		{name: "no Content-Type, no body exempt", ctype: none, body: ""},
		{name: "empty Content-Type, payload=x exempt", ctype: "", body: "payload=x"},
		{name: "text/plain, _method=DELETE exempt (no reader takes it for a form)", ctype: "text/plain", body: "_method=DELETE"},

		// Laravel reads the body as JSON, _method included, when the
		// Content-Type contains "/json" or "+json" anywhere
		// (Request::isJson), which a safelisted one may, in a parameter.
		{name: "text/plain;x=/json, JSON _method DELETE refused (Laravel)", ctype: "text/plain;x=/json", body: `{"_method":"DELETE"}`, refused: true},
		{name: "urlencoded;x=+json, JSON _method DELETE refused (Laravel)", ctype: form + ";x=+json", body: `{"_method":"DELETE"}`, refused: true},
		{name: "multipart boundary=b;x=/json, JSON _method DELETE refused (Laravel)", ctype: "multipart/form-data; boundary=b;x=/json", body: `{"_method":"DELETE"}`, refused: true},
		{name: "text/plain, JSON _method DELETE exempt (no /json: Laravel reads no JSON)", ctype: "text/plain", body: `{"_method":"DELETE"}`},

		// mime.ParseMediaType refuses a duplicated parameter, which the
		// Fetch MIME parser accepts (the first wins); Rack, PHP and
		// Express read the form all the same.
		{name: "urlencoded;a=1;a=2, _method=DELETE refused (Rack, PHP, Express)", ctype: form + ";a=1;a=2", body: "_method=DELETE", refused: true},
		{name: "urlencoded; charset=utf-8; charset=latin1, _method=PUT refused (Rack, PHP, Express)", ctype: form + "; charset=utf-8; charset=latin1", body: "_method=PUT", refused: true},
		{name: "urlencoded; charset=utf-8; charset*=utf-16'', payload refused (Django decodes RFC 2231)", ctype: form + "; charset=utf-8; charset*=utf-16''", body: "payload=x", refused: true},
		{name: "urlencoded;a=1;a=2, payload=x exempt", ctype: form + ";a=1;a=2", body: "payload=x"},

		// Django decodes a form body with its charset before splitting
		// it: UTF-16 hides "_method=DELETE" from a byte-wise reading.
		{name: "urlencoded; charset=utf-16le, _method=DELETE in UTF-16 refused (Django)", ctype: form + "; charset=utf-16le", body: utf16le("_method=DELETE"), refused: true},
		{name: "urlencoded; charset=utf-7, payload refused (no such reading)", ctype: form + "; charset=utf-7", body: "payload=x+AF8-method=DELETE", refused: true},
		{name: "urlencoded; charset=UTF-8, payload=x exempt", ctype: form + "; charset=UTF-8", body: "payload=x"},
		{name: "urlencoded; charset=iso-8859-1, payload=x exempt", ctype: form + "; charset=iso-8859-1", body: "payload=x"},

		// PHP and Rack 2 take the first "boundary" in the Content-Type,
		// net/http the parameter named boundary: a part that one reads
		// is preamble to the other.
		{name: "multipart xboundary=a; boundary=b, _method=DELETE under a refused (PHP)", ctype: "multipart/form-data; xboundary=a; boundary=b", body: part("a", "_method", "DELETE") + "--a--\r\n--b--\r\n", refused: true},
		{name: "multipart boundary=b; boundary=c, _method=DELETE under b refused (PHP)", ctype: "multipart/form-data; boundary=b; boundary=c", body: part("b", "_method", "DELETE") + "--b--\r\n", refused: true},
		{name: "multipart boundary=b ;x=1 refused (Rack reads the boundary as \"b \")", ctype: "multipart/form-data; boundary=b ;x=1", body: part("b", "payload", "x") + "--b--\r\n", refused: true},
		{name: "multipart without a boundary refused (Rack reads it as urlencoded)", ctype: "multipart/form-data", body: "_method=DELETE&x=\r\n----\r\n", refused: true},
		{name: "multipart boundary=b, the same body exempt (a is preamble to all)", ctype: "multipart/form-data; boundary=b", body: part("a", "_method", "DELETE") + "--a--\r\n--b--\r\n"},
		{name: "multipart charset=utf-8; boundary=b, payload exempt", ctype: "multipart/form-data; charset=utf-8; boundary=b", body: part("b", "payload", "x") + "--b--\r\n"},
		{name: "multipart boundary=\"b\", payload exempt", ctype: "multipart/form-data; boundary=\"b\"", body: part("b", "payload", "x") + "--b--\r\n"},

		// The value: the pattern's own method is no override; echo takes
		// any value that does not fold to a safe method's name as the
		// method, case and spaces as sent, which a route for any method
		// then serves.
		{name: "urlencoded _method=POST exempt (the pattern's own method)", ctype: form, body: "_method=POST&payload=x"},
		{name: "multipart _method=POST exempt", ctype: "multipart/form-data; boundary=b", body: part("b", "_method", "POST") + "--b--\r\n"},
		{name: "no Content-Type, _method=POST exempt", ctype: none, body: "_method=POST"},
		{name: "?_method=POST exempt", target: "/hooks/x?_method=POST", ctype: form, body: "payload=x"},
		{name: "X-HTTP-Method-Override: POST exempt", ctype: form, body: "payload=x", header: []string{"X-HTTP-Method-Override", "POST"}},
		{name: "urlencoded _method=get exempt (a safe method)", ctype: form, body: "_method=get"},
		{name: "urlencoded _method=post refused (echo: method \"post\")", ctype: form, body: "_method=post", refused: true},
		{name: "urlencoded _method=+GET refused (echo: method \" GET\")", ctype: form, body: "_method=+GET", refused: true},
		{name: "urlencoded _method=POST%20 refused (echo: method \"POST \")", ctype: form, body: "_method=POST%20", refused: true},
		{name: "?_method=GET,DELETE refused", target: "/hooks/x?_method=GET,DELETE", ctype: form, body: "payload=x", refused: true},
		{name: "multipart _method=' get' refused", ctype: "multipart/form-data; boundary=b", body: part("b", "_method", " get") + "--b--\r\n", refused: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := csrf.New()
			must(t, p.AddInsecureBypassPattern("POST /hooks/"))
			if tt.maxBytes > 0 {
				p.SetMaxFormBytes(tt.maxBytes)
			}
			target := tt.target
			if target == "" {
				target = "/hooks/x"
			}
			r := request("POST", app+target, append([]string{"Sec-Fetch-Site", "cross-site"}, tt.header...)...)
			r.Body = io.NopCloser(strings.NewReader(tt.body))
			if tt.ctype != none {
				r.Header["Content-Type"] = []string{tt.ctype}
			}
			got := reasonOf(p.Check(r))
			if want := map[bool]csrf.Reason{true: csrf.ReasonCrossSite}[tt.refused]; got != want {
				t.Errorf("got %q, want %q", got, want)
			}
			if b, _ := io.ReadAll(r.Body); !bytes.Equal(b, []byte(tt.body)) {
				t.Errorf("the handler reads %q, want the body as sent", b)
			}
			// A pattern without a method exempts the path whatever the
			// override: nothing is read.
			q := csrf.New()
			must(t, q.AddInsecureBypassPattern("/hooks/"))
			if err := q.Check(r); err != nil {
				t.Errorf("method-less pattern: got %v, want exempt", err)
			}
		})
	}
}

// An untyped POST on a method-naming bypass pattern is read now (Rack
// reads it as a form); one over the limit is not exempt, but the same
// POST on a pattern without a method, or with a Content-Type that no
// reader takes for a form, is exempt without its body being read.
func TestBypassUntypedBodyNotReadOffPattern(t *testing.T) {
	body := &countingReader{r: strings.NewReader(strings.Repeat("x", 1<<12))}
	for _, tt := range []struct {
		pattern, ctype string
	}{{"/hooks/", ""}, {"POST /hooks/", "application/octet-stream"}, {"POST /hooks/", "application/json"}} {
		p := csrf.New()
		must(t, p.AddInsecureBypassPattern(tt.pattern))
		r := request("POST", app+"/hooks/x", "Sec-Fetch-Site", "cross-site")
		r.Body = io.NopCloser(body)
		if tt.ctype != "" {
			r.Header.Set("Content-Type", tt.ctype)
		}
		if err := p.Check(r); err != nil || body.n != 0 {
			t.Errorf("%s, Content-Type %q: got %v after reading %d bytes, want exempt, unread", tt.pattern, tt.ctype, err, body.n)
		}
	}
}

type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}
