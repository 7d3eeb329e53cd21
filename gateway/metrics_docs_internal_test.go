package gateway

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/forgeproof/forgeproof/internal/mdtest"
)

// TestMetricsDocumented keeps the metric list of docs/gateway.md
// (Operations) and metrics.go (with the workers' master's) in step: every metric the gateway registers
// is written there with its labels (`name{a,b}`, or `name` without
// labels), and every forgeproof_gateway_ metric any page of docs/ names
// exists, with labels the code gives it.
func TestMetricsDocumented(t *testing.T) {
	t.Parallel()
	var src []byte
	// The master of serve's worker processes registers its own.
	for _, f := range []string{"metrics.go", "../internal/workers/master.go"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		src = append(src, b...)
	}
	// The metrics and their labels, as metrics.go declares them:
	// counterVec(name, help, labels...), or Opts{Name: name, ...} followed
	// by []string{labels} for the other vectors, or no labels.
	labels := map[string][]string{}
	for _, m := range regexp.MustCompile(`"(forgeproof_gateway_[a-z_]+)"`).FindAllStringSubmatch(string(src), -1) {
		labels[m[1]] = nil
	}
	quoted := regexp.MustCompile(`"([a-z_]+)"`)
	names := func(list string) []string {
		var out []string
		for _, m := range quoted.FindAllStringSubmatch(list, -1) {
			out = append(out, m[1])
		}
		return out
	}
	for _, m := range regexp.MustCompile(`counterVec\("(forgeproof_gateway_[a-z_]+)",\s*"(?:[^"\\]|\\.)*",\s*((?:"[a-z_]+",?\s*)+)\)`).FindAllStringSubmatch(string(src), -1) {
		labels[m[1]] = names(m[2])
	}
	for _, m := range regexp.MustCompile(`Name:\s*"(forgeproof_gateway_[a-z_]+)"[^}]*\},\s*\[\]string\{([^}]*)\}`).FindAllStringSubmatch(string(src), -1) {
		labels[m[1]] = names(m[2])
	}
	if len(labels) < 10 {
		t.Fatalf("found %d metrics in metrics.go, want the gateway's", len(labels))
	}

	gw, err := os.ReadFile("../docs/gateway.md")
	if err != nil {
		t.Fatal(err)
	}
	for name, l := range labels {
		want := "`" + name + "`"
		if len(l) > 0 {
			want = "`" + name + "{" + strings.Join(l, ",") + "}`"
		}
		if !strings.Contains(string(gw), want) {
			t.Errorf("docs/gateway.md: the metric %s is not listed as %s", name, want)
		}
	}
	named := regexp.MustCompile(`(forgeproof_gateway_[a-z_]+)(?:\{([^}]*)\})?`)
	label := regexp.MustCompile(`^([a-z_]+)`)
	for _, doc := range mdtest.Docs(t, "..") {
		for i, line := range strings.Split(doc.Text, "\n") {
			for _, m := range named.FindAllStringSubmatch(line, -1) {
				l, ok := labels[m[1]]
				if !ok {
					t.Errorf("%s:%d: %s is no metric of metrics.go", doc.Path, i+1, m[1])
					continue
				}
				for _, p := range strings.Split(m[2], ",") {
					if p = strings.TrimSpace(p); p == "" {
						continue
					}
					if k := label.FindString(p); !slices.Contains(l, k) {
						t.Errorf("%s:%d: %s has no label %q (it has %v)", doc.Path, i+1, m[1], k, l)
					}
				}
			}
		}
	}

	// The reasons the ambiguous-requests counter starts with (at zero)
	// are the ones listed after it, and only those.
	const amb = "forgeproof_gateway_ambiguous_requests_total{reason}`"
	i := strings.Index(string(gw), amb)
	if i < 0 {
		t.Fatalf("docs/gateway.md: no %s", amb)
	}
	list := string(gw)[i+len(amb):]
	list = list[:strings.Index(list, "`forgeproof_gateway_")]
	var documented []string
	for _, m := range regexp.MustCompile("`([a-z-]+)`").FindAllStringSubmatch(list, -1) {
		documented = append(documented, m[1])
	}
	families, err := newMetrics().reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var counted []string
	for _, f := range families {
		if f.GetName() == "forgeproof_gateway_ambiguous_requests_total" {
			for _, m := range f.GetMetric() {
				counted = append(counted, m.GetLabel()[0].GetValue())
			}
		}
	}
	slices.Sort(documented)
	slices.Sort(counted)
	if !slices.Equal(documented, counted) {
		t.Errorf("docs/gateway.md lists %v after %s; metrics.go counts %v", documented, amb, counted)
	}
}
