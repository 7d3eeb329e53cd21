package scan_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/forgeproof/forgeproof/scan"
)

// wiki mimics DokuWiki's page editor behind mTLS (Debian's dokuwiki
// 2022-07-31, as run behind forgeproof serve): the edit form carries the
// session-bound anti-CSRF token in a hidden field named sectok, and its
// submit buttons are named do[save], do[preview] and do[cancel]. A POST
// without do[save] (a preview) only shows the editor again; a POST with
// do[save] and the session's sectok saves a revision and redirects. The
// session is the DokuWiki cookie (no SameSite, as DokuWiki sets it).
// Twins: noSectok saves without checking sectok (a wiki without its
// token); originCheck refuses cross-origin POSTs (forgeproof in front);
// anyPost saves on any POST, button or not.
type wiki struct {
	noSectok, originCheck, anyPost bool

	mu        sync.Mutex
	revisions int
	media     int
	sessions  map[string]bool
}

func (wk *wiki) sectok(session string) string { return "sectok-of-" + session }

func (wk *wiki) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	wk.mu.Lock()
	defer wk.mu.Unlock()
	if wk.sessions == nil {
		wk.sessions = map[string]bool{}
	}
	session := ""
	if c, err := r.Cookie("DokuWiki"); err == nil && wk.sessions[c.Value] {
		session = c.Value
	}
	if session == "" && r.Method == http.MethodGet && r.URL.Path != "/media" && r.URL.Path != "/revisions" {
		session = fmt.Sprintf("s%d", len(wk.sessions)+1)
		wk.sessions[session] = true
		http.SetCookie(w, &http.Cookie{Name: "DokuWiki", Value: session, Path: "/", HttpOnly: true})
	}
	switch {
	case r.URL.Path == "/media":
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]int{"media": wk.media})
	case r.URL.Path == "/lib/exe/mediamanager.php" || r.URL.Path == "/doku.php" && r.URL.Query().Get("do") == "media":
		if r.Method == http.MethodPost && r.URL.Path == "/lib/exe/mediamanager.php" {
			r.ParseMultipartForm(1 << 20)
			file, hdr, err := r.FormFile("upload")
			tokenOK := wk.noSectok || (session != "" && r.PostForm.Get("sectok") == wk.sectok(session))
			if err == nil && hdr.Filename != "" && tokenOK {
				file.Close()
				wk.media++
			}
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!DOCTYPE html><html><head><title>Media Manager</title></head><body><h1>Media Manager</h1>
<form id="dw__upload" enctype="multipart/form-data" action="/lib/exe/mediamanager.php" method="post" accept-charset="utf-8">
<input type="hidden" name="sectok" value="%s">
<input type="hidden" name="ns" value="playground">
<input name="upload" type="file" id="upload__file">
<input name="mediaid" type="text" id="upload__name" value="">
<button value="1" type="submit">Upload</button>
</form><ul id="media__files">%s</ul></body></html>`, html.EscapeString(wk.sectok(session)), strings.Repeat(`<li><a href="/lib/exe/fetch.php?media=playground:forgeproof.png">forgeproof.png</a></li>`, wk.media))
	case r.URL.Path == "/revisions":
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]int{"revisions": wk.revisions})
	case r.URL.Path == "/doku.php" && r.Method == http.MethodGet:
		wk.editor(w, session, "")
	case r.URL.Path == "/doku.php" && r.Method == http.MethodPost:
		r.ParseForm()
		if wk.originCheck && r.Header.Get("Origin") != "" && r.Header.Get("Origin") != "https://"+r.Host {
			http.Error(w, "cross-origin request refused", http.StatusForbidden)
			return
		}
		_, save := r.PostForm["do[save]"]
		tokenOK := wk.noSectok || (session != "" && r.PostForm.Get("sectok") == wk.sectok(session))
		if (save || wk.anyPost) && tokenOK {
			wk.revisions++
			http.Redirect(w, r, "/doku.php?id=start", http.StatusFound)
			return
		}
		// DokuWiki: a wrong sectok turns the save into a preview.
		wk.editor(w, session, r.PostForm.Get("wikitext"))
	default:
		http.NotFound(w, r)
	}
}

func (wk *wiki) editor(w http.ResponseWriter, session, text string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprintf(w, `<!DOCTYPE html><html><head><title>start [wiki]</title></head><body>
<form id="dw__editform" method="post" action="/doku.php?id=start&amp;do=edit" accept-charset="utf-8">
<input type="hidden" name="sectok" value="%s">
<input type="hidden" name="id" value="start">
<textarea name="wikitext">%s</textarea>
<input type="text" name="summary" value="">
<button type="submit" name="do[save]" value="1">Save</button>
<button type="submit" name="do[preview]" value="1">Preview</button>
<button type="submit" name="do[cancel]" value="1">Cancel</button>
</form></body></html>`, html.EscapeString(wk.sectok(session)), html.EscapeString(text))
}

func wikiScan(t *testing.T, wk *wiki) *scan.Report {
	t.Helper()
	return wikiScanAt(t, wk, "/doku.php", &scan.Verification{Path: "/revisions", Pointer: "/revisions"})
}

func wikiScanAt(t *testing.T, wk *wiki, start string, verify *scan.Verification) *scan.Report {
	t.Helper()
	p := newTestPKI(t)
	srv := httptest.NewUnstartedServer(wk)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{p.server}, ClientCAs: p.pool, ClientAuth: tls.RequireAndVerifyClientCert}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	rep, err := scan.Run(context.Background(), scan.Config{
		Target: srv.URL + start, TLS: p.clientTLS(), Rate: 1000, Discover: true, Verify: verify,
	})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// forgeryRules are the rules that say a forged request was accepted.
var forgeryRules = []string{scan.RuleCrossSiteForgery, scan.RuleLaxPostWindow, scan.RuleSameSiteForgery, scan.RuleOriginNull, scan.RuleLegacyOrigin}

func forgeryFound(rep *scan.Report) []string {
	var got []string
	for _, f := range rep.Findings {
		if slices.Contains(forgeryRules, f.Rule) {
			got = append(got, f.Rule)
		}
	}
	return got
}

// TestDokuWikiSectokIsAToken: DokuWiki's session-bound token field is
// named sectok. A forgery that carries the victim's sectok proves
// nothing (an attacker's page cannot read it), so discovery must take
// sectok as the form's token field and leave it out of the forgeries:
// the wiki that checks it gets no forgery finding. Twin: the same wiki
// without the check is forged (through the Lax+POST window, its cookie
// having no SameSite). The wiki that saves only on do[save] needs
// TestDefaultSubmitButtonIsSent's fix too: a refused save and a preview
// both answer with the editor, so a baseline without the button looks
// like every forgery.
func TestDokuWikiSectokIsAToken(t *testing.T) {
	if got := forgeryFound(wikiScan(t, &wiki{anyPost: true})); len(got) != 0 {
		t.Errorf("wiki checking sectok: forgery findings %v, want none (the forgeries carried the victim's sectok)", got)
	}
	// As DokuWiki is: a save refused for its sectok shows the editor, as
	// a preview (a POST without do[save]) does.
	if got := forgeryFound(wikiScan(t, &wiki{})); len(got) != 0 {
		t.Errorf("DokuWiki-like wiki: forgery findings %v, want none", got)
	}
	if got := forgeryFound(wikiScan(t, &wiki{anyPost: true, noSectok: true})); len(got) == 0 {
		t.Errorf("wiki without sectok: no forgery finding, want one")
	}
}

// TestDefaultSubmitButtonIsSent: a browser that submits a form sends the
// name and value of the button that submitted it (clicked, or the
// form's default button, its first submit button, on Enter). DokuWiki
// saves a page only when do[save] is in the body; without it a POST is
// a preview. The scan's legitimate request must therefore carry
// do[save], or the baseline changes nothing and the unprotected wiki's
// forgery goes unreported. Twin: the same wiki with an origin check is
// not reported.
func TestDefaultSubmitButtonIsSent(t *testing.T) {
	rep := wikiScan(t, &wiki{noSectok: true})
	f, ok := findingOf(rep, scan.RuleCrossSiteForgery)
	if !ok || f.Confidence != scan.Confirmed {
		t.Errorf("wiki without any CSRF check: want %s confirmed by the verification; findings %+v; endpoints %+v", scan.RuleCrossSiteForgery, rep.Findings, rep.Endpoints)
	}
	rep = wikiScan(t, &wiki{noSectok: true, originCheck: true})
	if got := forgeryFound(rep); len(got) != 0 {
		t.Errorf("wiki with an origin check: forgery findings %v, want none", got)
	}
	for _, e := range rep.Endpoints {
		if !e.Assessed {
			t.Errorf("wiki with an origin check: %s %s not assessed: %s", e.Method, e.URL, e.Note)
		}
	}
}

// TestUploadFormWithoutFile: DokuWiki's media upload form is multipart
// with a file input (upload), its sectok and a name field; the wiki
// stores a file only when one is sent with the session's sectok, and
// answers every POST with the media manager page. The scan drops file
// inputs, so its legitimate request uploads nothing: with no
// verification request, the forgery (sectok left out) answers like it
// and is reported as a HIGH cross-site-forgery that "the service does not
// enforce" the token, which is false. With a placeholder file the
// legitimate upload lists one more file on the media page (the full
// media manager, doku.php?do=media), which the scan then takes as its
// oracle. Wanted: no forgery finding for the wiki that checks sectok;
// twin: the wiki that does not is found, confirmed by the media count.
func TestUploadFormWithoutFile(t *testing.T) {
	rep := wikiScanAt(t, &wiki{}, "/doku.php?do=media", nil)
	if got := forgeryFound(rep); len(got) != 0 {
		t.Errorf("upload form checking sectok: forgery findings %v, want none; endpoints %+v", got, rep.Endpoints)
	}
	rep = wikiScanAt(t, &wiki{noSectok: true}, "/doku.php?do=media", &scan.Verification{Path: "/media", Pointer: "/media"})
	if f, ok := findingOf(rep, scan.RuleCrossSiteForgery); !ok || f.Confidence != scan.Confirmed {
		t.Errorf("upload form without sectok: want %s confirmed by the media count; findings %+v; endpoints %+v", scan.RuleCrossSiteForgery, rep.Findings, rep.Endpoints)
	}
}
