package scanbrowser_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/forgeproof/forgeproof/internal/browser"
	"github.com/forgeproof/forgeproof/internal/browser/browsertest"
	"github.com/forgeproof/forgeproof/internal/scanbrowser"
	"github.com/forgeproof/forgeproof/pki"
	"github.com/forgeproof/forgeproof/pki/pkitest"
	"github.com/forgeproof/forgeproof/scan"
)

const caName = "forgeproof scanbrowser test CA"

// spa is a single-page app over mTLS: the page's script renders a note
// editor and, on "Save", sends fetch POST /api/notes with a JSON body and
// an X-CSRF-Token header taken from a meta tag; "Log out" sends POST
// /api/session/close; the script opens a WebSocket to /live, whose URL
// it builds at run time, and fetches the app's state from GET /state
// ({"notes": N}), a URL it builds too. There is no HTML form. If
// checkToken, /api/notes requires
// the header's token (a cross-site page cannot set it); otherwise it
// takes any body it can parse as JSON, whatever its Content-Type.
type spa struct {
	checkToken bool

	mu    sync.Mutex
	notes int
	hits  map[string]int
}

func (s *spa) handler() http.Handler {
	token := func(r *http.Request) string {
		c, err := r.Cookie("sid")
		if err != nil {
			return ""
		}
		return "tok-" + c.Value
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		sid := "s1"
		if c, err := r.Cookie("sid"); err == nil {
			sid = c.Value
		} else {
			http.SetCookie(w, &http.Cookie{Name: "sid", Value: sid, Path: "/", Secure: true, HttpOnly: true, SameSite: http.SameSiteNoneMode})
		}
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprintf(w, `<!doctype html><title>notes</title><meta name="csrf" content="tok-%s"><div id="app"></div>
<script>
document.getElementById("app").innerHTML = '<input id="text"> <button id="save">Save</button> <button id="bye">Log out</button>';
document.getElementById("save").onclick = () => fetch("/api/notes", {method: "POST",
  headers: {"Content-Type": "application/json", "X-CSRF-Token": document.querySelector("meta[name=csrf]").content},
  body: JSON.stringify({text: document.getElementById("text").value})});
document.getElementById("bye").onclick = () => fetch("/api/session/close", {method: "POST"});
const live = ["", "live"].join("/"); // built at run time: only a browser sees it
new WebSocket("wss://" + location.host + live);
fetch(["", "state"].join("/")).then(r => r.json()); // the app's state, likewise
</script>`, sid)
	})
	mux.HandleFunc("POST /api/notes", func(w http.ResponseWriter, r *http.Request) {
		if len(r.TLS.PeerCertificates) == 0 || token(r) == "" {
			http.Error(w, "who are you", http.StatusUnauthorized)
			return
		}
		if s.checkToken && r.Header.Get("X-CSRF-Token") != token(r) {
			http.Error(w, "bad token", http.StatusForbidden)
			return
		}
		var note struct{ Text string }
		if err := json.NewDecoder(r.Body).Decode(&note); err != nil {
			http.Error(w, "bad json", http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		s.notes++
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"saved":true}`)
	})
	mux.HandleFunc("GET /state", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"notes":%d}`, s.notes)
	})
	mux.HandleFunc("POST /api/session/close", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("GET /live", func(w http.ResponseWriter, r *http.Request) {
		// The twin that checks the token checks the handshake's Origin too.
		if s.checkToken && r.Header.Get("Origin") != "https://"+r.Host {
			http.Error(w, "cross-origin WebSocket refused", http.StatusForbidden)
			return
		}
		browsertest.AcceptWebSocket(w, r)
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.hits[r.Method+" "+r.URL.Path]++
		s.mu.Unlock()
		mux.ServeHTTP(w, r)
	})
}

type world struct {
	ca     *pki.CA
	client tls.Certificate
	caPEM  []byte
}

func newWorld(t *testing.T) *world {
	ca, err := pki.NewCA(pki.CAOptions{CommonName: caName})
	if err != nil {
		t.Fatal(err)
	}
	return &world{ca: ca, client: pkitest.Client(t, ca, pki.ClientOptions{CommonName: "alice"}).TLSCertificate(), caPEM: pki.EncodeCertsPEM(ca.Cert)}
}

// serve runs h over TLS on localhost, asking for a client certificate.
func (w *world) serve(t *testing.T, h http.Handler) string {
	srv := httptest.NewUnstartedServer(h)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{pkitest.Server(t, w.ca).TLSCertificate()}, ClientCAs: w.ca.Pool(), ClientAuth: tls.VerifyClientCertIfGiven}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // Chromium's pre-connects end in EOF
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return strings.Replace(srv.URL, "127.0.0.1", "localhost", 1) + "/"
}

func (w *world) config(target string, b scan.Browser) scan.Config {
	return scan.Config{
		Target: target, Discover: true, Browser: b, Rate: 1000,
		TLS: &tls.Config{RootCAs: w.ca.Pool(), Certificates: []tls.Certificate{w.client}},
	}
}

// TestSinglePageApp is the acceptance test of the browser mode: the app's
// only state change is a JavaScript fetch POST, invisible to HTML
// discovery (a scan without the browser finds no endpoint). With the
// browser the scan finds it, replays it with the page's token header as
// the baseline, and reports that a cross-site text/plain form is
// accepted; its twin that requires the header is assessed and clean. The
// WebSocket whose URL the script builds at run time is found through the
// browser alone, and reported only where the handshake's Origin is not
// checked. The JSON GET of the app's state, whose URL the script also
// builds, is watched as the discovered oracle (TestBrowserFetchWatched in
// scan has the twin without it). The logout button is never clicked and
// its request never sent.
func TestSinglePageApp(t *testing.T) {
	tools := browsertest.Tools(t)
	w := newWorld(t)
	var out bytes.Buffer
	x, err := scanbrowser.New(scanbrowser.Options{Tools: tools, CACertsPEM: w.caPEM, Client: &w.client, Output: &out})
	if err != nil {
		t.Fatal(err)
	}

	t.Run("without the browser", func(t *testing.T) {
		s := &spa{hits: map[string]int{}}
		_, err := scan.Run(context.Background(), w.config(w.serve(t, s.handler()), nil))
		if err == nil || !strings.Contains(err.Error(), "no-endpoints") {
			t.Fatalf("got %v, want no endpoint found", err)
		}
	})
	for _, tt := range []struct {
		name       string
		checkToken bool
		want       bool
	}{
		{"token header not required", false, true},
		{"token header required", true, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := &spa{checkToken: tt.checkToken, hits: map[string]int{}}
			rep, err := scan.Run(context.Background(), w.config(w.serve(t, s.handler()), x))
			if err != nil {
				var notes []string
				if rep != nil {
					notes = rep.Notes
				}
				t.Fatalf("Run: %v\nnotes: %q\nbrowser output:\n%s", err, notes, out.String())
			}
			var ep *scan.EndpointResult
			for i, e := range rep.Endpoints {
				if e.Method == "POST" && strings.HasSuffix(e.URL, "/api/notes") {
					ep = &rep.Endpoints[i]
				}
			}
			if ep == nil || ep.Source != "browser" || !ep.Assessed {
				t.Fatalf("endpoints: got %+v, want POST /api/notes from the browser, assessed; notes %q", rep.Endpoints, rep.Notes)
			}
			if ep.Oracle != scan.OracleDiscovered || !strings.Contains(ep.Verification, "/state") {
				t.Errorf("oracle: got %q %q (%s), want the discovered verification on the JSON GET the script sent", ep.Oracle, ep.Verification, ep.Note)
			}
			var rules []string
			for _, f := range rep.Findings {
				if strings.HasSuffix(f.URL, "/api/notes") {
					rules = append(rules, f.Rule)
					if strings.Contains(f.Reproduce, "tok-") {
						t.Errorf("%s: the reproduction shows the token: %s", f.Rule, f.Reproduce)
					}
				}
			}
			ws := false
			for _, e := range rep.Endpoints {
				ws = ws || e.Method == "WS" && strings.HasSuffix(e.URL, "/live") && e.Source == "browser" && e.Assessed
			}
			if !ws {
				t.Errorf("endpoints %+v: want the WebSocket the page opened, from the browser, assessed", rep.Endpoints)
			}
			wsFound := slices.ContainsFunc(rep.Findings, func(f scan.Finding) bool { return f.Rule == scan.RuleWebSocketCrossSite })
			if wsFound != tt.want {
				t.Errorf("websocket-cross-site reported: got %v, want %v", wsFound, tt.want)
			}
			if got := slices.Contains(rules, scan.RuleTextPlainJSON); got != tt.want {
				t.Errorf("text-plain-json reported: got %v (rules %v), want %v", got, rules, tt.want)
			}
			s.mu.Lock()
			defer s.mu.Unlock()
			if n := s.hits["POST /api/session/close"]; n != 0 {
				t.Errorf("the logout request was sent %d times, want never", n)
			}
			if !slices.ContainsFunc(rep.Notes, func(n string) bool { return strings.Contains(n, `"Log out bye" is excluded`) }) {
				t.Errorf("notes %q: want the logout button named as not clicked", rep.Notes)
			}
		})
	}
}

// TestNoBrowserFallsBack: without Chromium the scan says so in a note and
// keeps the forms that the HTML gave.
func TestNoBrowserFallsBack(t *testing.T) {
	w := newWorld(t)
	_, err := browser.FindTools("no-such-chromium-forgeproof")
	if err == nil {
		t.Fatal("FindTools found a browser that does not exist")
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(rw http.ResponseWriter, r *http.Request) {
		fmt.Fprint(rw, `<form method="post" action="/save"><input name="a" value="1"></form>`)
	})
	mux.HandleFunc("POST /save", func(rw http.ResponseWriter, r *http.Request) {})
	rep, err2 := scan.Run(context.Background(), w.config(w.serve(t, mux), scanbrowser.Unavailable(err)))
	if err2 != nil {
		t.Fatal(err2)
	}
	if len(rep.Endpoints) != 1 || rep.Endpoints[0].Source != "discovered" {
		t.Errorf("endpoints: got %+v, want the HTML form", rep.Endpoints)
	}
	if !slices.ContainsFunc(rep.Notes, func(n string) bool {
		return strings.HasPrefix(n, "browser: ") && strings.Contains(n, "missing tool") && strings.HasSuffix(n, "discovery used the HTML only")
	}) {
		t.Errorf("notes %q: want the missing browser named", rep.Notes)
	}
}

// TestSlowPageStillRecorded: on a loaded machine the page's script can
// run long before the request it sends reaches the browser's interception
// (here, the click handler works for a second before its fetch). The
// explorer waits for the page to be quiet counting from the end of the
// click, not from its start, so the request is recorded all the same.
// The test asserts no duration: the busy page stands in for a slow one.
func TestSlowPageStillRecorded(t *testing.T) {
	tools := browsertest.Tools(t)
	w := newWorld(t)
	var out bytes.Buffer
	x, err := scanbrowser.New(scanbrowser.Options{Tools: tools, CACertsPEM: w.caPEM, Client: &w.client, Output: &out})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Content-Type", "text/html")
		fmt.Fprint(rw, `<!doctype html><title>slow</title><button id="go">Go</button>
<script>
document.getElementById("go").onclick = () => {
  const t = Date.now();
  while (Date.now() - t < 1000) {} // a renderer that is slow to get there
  fetch("/api/slow", {method: "POST", body: "x"});
};
</script>`)
	})
	mux.HandleFunc("POST /api/slow", func(rw http.ResponseWriter, r *http.Request) {
		t.Errorf("the recorded request was sent")
	})
	target, err := url.Parse(w.serve(t, mux))
	if err != nil {
		t.Fatal(err)
	}
	res, err := x.Explore(context.Background(), scan.Exploration{Target: target, Pages: []*url.URL{target}})
	if err != nil {
		t.Fatalf("Explore: %v\nbrowser output:\n%s", err, out.String())
	}
	if !slices.ContainsFunc(res.Requests, func(r scan.RecordedRequest) bool {
		return r.Method == "POST" && strings.HasSuffix(r.URL, "/api/slow")
	}) {
		t.Errorf("requests %+v (notes %q): want the POST /api/slow the click sent", res.Requests, res.Notes)
	}
}
