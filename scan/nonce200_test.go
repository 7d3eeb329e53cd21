package scan_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/forgeproof/forgeproof/scan"
)

// quickDraft is WordPress's dashboard "Quick Draft" form as seen from
// outside (wp-admin/post.php, action post-quickdraft-save): GET /{site}/
// shows the form with a hidden _wpnonce; POST /{site}/post.php saves a
// draft and answers 200 with the dashboard and the form again. With a
// wrong or missing nonce WordPress saves nothing and answers the same
// page, 200, with "Unable to submit this form, please refresh and try
// again." above the form. checks says whether the site checks the nonce
// (WordPress) or saves whatever comes (the vulnerable twin).
type quickDraft struct {
	checks bool
	saved  atomic.Int64
}

const quickDraftNonce = "8f3a1c9e2b"

// quickDraftForm is wp_dashboard_quick_press's form; its notice (%s) is
// the error WordPress shows in it.
const quickDraftForm = `<form name="post" action="post.php" method="post" id="quick-press" class="initial-form hide-if-no-js">%s
<label for="title">Title</label><input type="text" name="post_title" id="title" autocomplete="off">
<label for="content">Content</label><textarea name="content" id="content" placeholder="What&#8217;s on your mind?"></textarea>
<input type="hidden" name="action" id="quickpost-action" value="post-quickdraft-save">
<input type="hidden" name="post_ID" value="4"><input type="hidden" name="post_type" value="post">
<input type="hidden" id="_wpnonce" name="_wpnonce" value="%s"><input type="hidden" name="_wp_http_referer" value="/wp-admin/">
<p class="submit"><input type="submit" name="save" id="save-post" class="button button-primary" value="Save Draft"></p></form>`

// page writes the dashboard (full) or, as post.php answers, the Quick
// Draft widget alone: the form, with notice inside it, and the drafts.
func (q *quickDraft) page(w http.ResponseWriter, full bool, notice string) {
	if !full {
		fmt.Fprintf(w, quickDraftForm+`<div class="drafts"><h2>Your Recent Drafts</h2><ul><li>forgeproof draft %d</li></ul></div>`, notice, quickDraftNonce, q.saved.Load())
		return
	}
	fmt.Fprintf(w, `<!doctype html><html><head><title>Dashboard &lsaquo; Site &mdash; WordPress</title></head><body class="wp-admin">
<ul id="adminmenu"><li>Dashboard</li><li>Home</li><li>Updates</li><li>Posts</li><li>All Posts</li><li>Add New</li><li>Categories</li><li>Tags</li>
<li>Media</li><li>Library</li><li>Pages</li><li>Comments</li><li>Appearance</li><li>Themes</li><li>Editor</li><li>Plugins</li><li>Installed</li>
<li>Users</li><li>Profile</li><li>Tools</li><li>Available</li><li>Import</li><li>Export</li><li>Site Health</li><li>Export Personal Data</li>
<li>Erase Personal Data</li><li>Settings</li><li>General</li><li>Writing</li><li>Reading</li><li>Discussion</li><li>Permalinks</li><li>Privacy</li><li>Collapse menu</li></ul>
<div id="wpbody"><h1>Dashboard</h1>%s
<div id="dashboard-widgets"><div class="postbox"><h2>At a Glance</h2><ul><li>1 Post</li><li>1 Page</li><li>1 Comment</li></ul></div>
<div class="postbox"><h2>Activity</h2><p>Recently Published</p><ul><li>Hello world!</li></ul></div>
<div class="postbox"><h2>WordPress Events and News</h2><p>Attend an upcoming event near you.</p>
<div class="community-events-errors notice notice-error inline hide-if-js"><p class="hide-if-js">This widget requires JavaScript.</p>
<p class="community-events-error-occurred" aria-hidden="true">An error occurred. Please try again.</p></div></div></div>
`+quickDraftForm+`
</div><div id="wpfooter"><p>Thank you for creating with WordPress. Version 6.1.9. Screen Options Help. Welcome to WordPress! Learn more about the latest version.
Next Steps: Write your first blog post, Add an About page, Set up your homepage, View your site. More Actions: Manage widgets, Manage menus,
Turn comments on or off, Learn more about getting started. Site Health Status: No information yet. Site health checks will automatically run periodically
to gather information about your site. You can also visit the Site Health screen to gather information about your site now. Drag boxes here.</p></div></body></html>`, notice, "", quickDraftNonce)
}

func (q *quickDraft) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		http.Error(w, "no certificate", http.StatusForbidden)
		return
	}
	switch {
	case r.Method == "GET" && r.URL.Path == "/":
		q.page(w, true, "")
	case r.Method == "POST" && r.URL.Path == "/post.php":
		if q.checks && r.PostFormValue("_wpnonce") != quickDraftNonce {
			q.page(w, false, `<div class="error"><p>Unable to submit this form, please refresh and try again.</p></div>`)
			return
		}
		q.saved.Add(1)
		q.page(w, false, "")
	default:
		http.NotFound(w, r)
	}
}

// TestNonceRefusedWith200: a form whose nonce check refuses with the
// same 200 page as its success (WordPress's Quick Draft) was reported
// cross-site-forgery (high, inferred by the baseline) in a scan of a real
// WordPress, though WordPress saved nothing: the forgery's answer was
// "like the legitimate request" (88% similar), and the scan had no way
// to tell that answer from the one a wrong nonce gets. Twin: the same
// page without the nonce check, which saves the forged draft, is still
// reported. Neither site has an oracle: no value on its pages changes.
func TestNonceRefusedWith200(t *testing.T) {
	p := newTestPKI(t)
	for _, tt := range []struct {
		name   string
		checks bool
		want   []string
	}{
		{"wordpress (nonce checked)", true, nil},
		{"twin (nonce ignored)", false, []string{scan.RuleCrossSiteForgery}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			site := &quickDraft{checks: tt.checks}
			srv := httptest.NewUnstartedServer(site)
			srv.TLS = &tls.Config{Certificates: []tls.Certificate{p.server}, ClientCAs: p.pool, ClientAuth: tls.VerifyClientCertIfGiven}
			srv.StartTLS()
			t.Cleanup(srv.Close)
			rep, err := scan.Run(context.Background(), scan.Config{Target: srv.URL + "/", TLS: p.clientTLS(), Rate: 1000, Discover: true})
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Endpoints) != 1 || !rep.Endpoints[0].Assessed {
				t.Fatalf("endpoints: %+v, want POST /post.php assessed; notes %q", rep.Endpoints, rep.Notes)
			}
			got := forgeries(rep, "/post.php")
			slices.Sort(got)
			if !slices.Equal(got, tt.want) {
				var sb strings.Builder
				scan.WriteText(&sb, rep, scan.TextOptions{})
				t.Errorf("findings %v, want %v (drafts saved: %d, the baseline's included):\n%s", got, tt.want, site.saved.Load(), sb.String())
			}
		})
	}
}
