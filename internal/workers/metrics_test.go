package workers

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// workers serves each handler on its own Unix socket, as a worker's
// admin server would, and returns a dial func for metricsGatherer and
// a func that shuts worker i down.
func workers(t *testing.T, hs ...http.Handler) (dial func(context.Context, int) (net.Conn, error), stop func(int)) {
	t.Helper()
	// Not t.TempDir: its path includes the test name and can overflow
	// the 108-byte sun_path.
	dir, err := os.MkdirTemp("", "fpw")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	var paths []string
	var stops []func()
	for i, h := range hs {
		p := filepath.Join(dir, fmt.Sprintf("%d.sock", i))
		ln, err := net.Listen("unix", p)
		if err != nil {
			t.Fatal(err)
		}
		srv := &http.Server{Handler: h}
		go srv.Serve(ln)
		t.Cleanup(func() { srv.Close() })
		paths = append(paths, p)
		// Close ln here too: srv.Close does not know it until Serve runs.
		stops = append(stops, func() { ln.Close(); srv.Close() })
	}
	dial = func(ctx context.Context, i int) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", paths[i])
	}
	return dial, func(i int) { stops[i]() }
}

// worker is one worker's registry with the kinds of metric the gateway has.
type worker struct {
	reg   *prometheus.Registry
	reqs  *prometheus.CounterVec
	conns prometheus.Gauge
	hs    prometheus.Histogram
}

func newWorker(goCollector bool) *worker {
	w := &worker{
		reg: prometheus.NewRegistry(),
		reqs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "forgeproof_requests_total", Help: "Requests served.",
		}, []string{"route"}),
		conns: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "forgeproof_open_connections", Help: "Open connections.",
		}),
		hs: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "forgeproof_handshake_seconds", Help: "TLS handshake time.",
			Buckets: []float64{0.1, 1},
		}),
	}
	w.reg.MustRegister(w.reqs, w.conns, w.hs)
	if goCollector {
		w.reg.MustRegister(collectors.NewGoCollector())
	}
	return w
}

func (w *worker) handler() http.Handler { return promhttp.HandlerFor(w.reg, promhttp.HandlerOpts{}) }

func ownRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "forgeproof_reloads_total", Help: "Config reloads."})
	c.Add(7)
	reg.MustRegister(c)
	return reg
}

func family(t *testing.T, mfs []*dto.MetricFamily, name string) *dto.MetricFamily {
	t.Helper()
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf
		}
	}
	t.Fatalf("no family %q", name)
	return nil
}

func labels(m *dto.Metric) string {
	var s []string
	for _, l := range m.GetLabel() {
		s = append(s, l.GetName()+"="+l.GetValue())
	}
	return strings.Join(s, ",")
}

// consistent runs mfs through client_golang's own checks (duplicate
// series, label order and names, type/value agreement).
func consistent(t *testing.T, mfs []*dto.MetricFamily) {
	t.Helper()
	g := prometheus.Gatherers{prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) { return mfs, nil })}
	if _, err := g.Gather(); err != nil {
		t.Errorf("prometheus rejects the merged families: %v", err)
	}
}

func TestMetricsGathererMerges(t *testing.T) {
	ws := []*worker{newWorker(true), newWorker(false), newWorker(false)}
	var hs []http.Handler
	for i, w := range ws {
		w.reqs.WithLabelValues("a").Add(float64(i + 1))
		w.reqs.WithLabelValues("b").Add(float64(10 * (i + 1)))
		w.conns.Set(float64(100 + i))
		for range i + 1 {
			w.hs.Observe(0.05)
		}
		w.hs.Observe(0.5)
		hs = append(hs, w.handler())
	}
	dial, _ := workers(t, hs...)
	g := metricsGatherer(len(ws), dial, ownRegistry(), 5*time.Second)

	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	consistent(t, mfs)
	if !slices.IsSortedFunc(mfs, func(a, b *dto.MetricFamily) int { return strings.Compare(a.GetName(), b.GetName()) }) {
		t.Error("families not sorted by name")
	}

	own := family(t, mfs, "forgeproof_reloads_total")
	if len(own.Metric) != 1 || labels(own.Metric[0]) != "" || own.Metric[0].GetCounter().GetValue() != 7 {
		t.Errorf("own family changed: %v", own)
	}

	reqs := family(t, mfs, "forgeproof_requests_total")
	if reqs.GetType() != dto.MetricType_COUNTER || reqs.GetHelp() != "Requests served." {
		t.Errorf("requests: type %v help %q", reqs.GetType(), reqs.GetHelp())
	}
	var got []string
	for _, m := range reqs.Metric {
		got = append(got, fmt.Sprintf("%s=%g", labels(m), m.GetCounter().GetValue()))
	}
	want := []string{
		"route=a,worker=0=1", "route=b,worker=0=10",
		"route=a,worker=1=2", "route=b,worker=1=20",
		"route=a,worker=2=3", "route=b,worker=2=30",
	}
	if !slices.Equal(got, want) {
		t.Errorf("requests:\n got %q\nwant %q", got, want)
	}

	conns := family(t, mfs, "forgeproof_open_connections")
	if conns.GetType() != dto.MetricType_GAUGE || len(conns.Metric) != 3 || conns.Metric[2].GetGauge().GetValue() != 102 {
		t.Errorf("gauge: %v", conns)
	}

	hist := family(t, mfs, "forgeproof_handshake_seconds")
	if hist.GetType() != dto.MetricType_HISTOGRAM || len(hist.Metric) != 3 {
		t.Fatalf("histogram: %v", hist)
	}
	for i, m := range hist.Metric {
		h := m.GetHistogram()
		var bs []string
		for _, b := range h.GetBucket() {
			bs = append(bs, fmt.Sprintf("%g:%d", b.GetUpperBound(), b.GetCumulativeCount()))
		}
		wantB := []string{fmt.Sprintf("0.1:%d", i+1), fmt.Sprintf("1:%d", i+2)}
		if labels(m) != fmt.Sprintf("worker=%d", i) || !slices.Equal(bs, wantB) || h.GetSampleCount() != uint64(i+2) {
			t.Errorf("histogram worker %d: labels %s buckets %v count %d", i, labels(m), bs, h.GetSampleCount())
		}
	}

	// Only worker 0 has the Go collector.
	gr := family(t, mfs, "go_goroutines")
	if len(gr.Metric) != 1 || labels(gr.Metric[0]) != "worker=0" || gr.GetType() != dto.MetricType_GAUGE {
		t.Errorf("go_goroutines: %v", gr)
	}

	// Values move between scrapes: nothing is cached.
	ws[1].reqs.WithLabelValues("a").Add(40)
	ws[2].conns.Set(-1)
	mfs, err = g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	if v := family(t, mfs, "forgeproof_requests_total").Metric[2].GetCounter().GetValue(); v != 42 {
		t.Errorf("worker 1 route a after Add(40) = %g, want 42", v)
	}
	if v := family(t, mfs, "forgeproof_open_connections").Metric[2].GetGauge().GetValue(); v != -1 {
		t.Errorf("worker 2 gauge after Set(-1) = %g, want -1", v)
	}
}

// serveMaster scrapes g the way the master will serve it.
func serveMaster(t *testing.T, g prometheus.Gatherer) (code int, mfs map[string]*dto.MetricFamily, errLog string) {
	t.Helper()
	var buf bytes.Buffer
	h := promhttp.HandlerFor(g, promhttp.HandlerOpts{
		ErrorHandling: promhttp.ContinueOnError,
		ErrorLog:      log.New(&buf, "", 0),
	})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code == http.StatusOK {
		p := expfmt.NewTextParser(model.UTF8Validation)
		var err error
		if mfs, err = p.TextToMetricFamilies(rec.Body); err != nil {
			t.Fatalf("master output does not parse: %v\n%s", err, rec.Body)
		}
	}
	return rec.Code, mfs, buf.String()
}

func workerSet(mf *dto.MetricFamily) []string {
	var s []string
	for _, m := range mf.GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "worker" {
				s = append(s, l.GetValue())
			}
		}
	}
	slices.Sort(s)
	return slices.Compact(s)
}

func TestMetricsGathererWorkerDown(t *testing.T) {
	for _, down := range []bool{false, true} {
		t.Run(fmt.Sprintf("down=%v", down), func(t *testing.T) {
			ws := []*worker{newWorker(false), newWorker(false), newWorker(false)}
			var hs []http.Handler
			for i, w := range ws {
				w.reqs.WithLabelValues("a").Add(float64(i + 1))
				hs = append(hs, w.handler())
			}
			dial, stop := workers(t, hs...)
			want := []string{"0", "1", "2"}
			if down {
				stop(1)
				want = []string{"0", "2"}
			}
			g := metricsGatherer(3, dial, ownRegistry(), 5*time.Second)

			code, mfs, errLog := serveMaster(t, g)
			if code != http.StatusOK {
				t.Fatalf("status %d", code)
			}
			if got := workerSet(mfs["forgeproof_requests_total"]); !slices.Equal(got, want) {
				t.Errorf("workers served: %v, want %v", got, want)
			}
			if mfs["forgeproof_reloads_total"] == nil {
				t.Error("own metrics missing")
			}
			if down != strings.Contains(errLog, "worker 1: dial: ") {
				t.Errorf("error log: %q", errLog)
			}

			// One error comes back bare (MultiError.MaybeUnwrap).
			_, err := g.Gather()
			if !down {
				if err != nil {
					t.Errorf("Gather: %v", err)
				}
			} else if err == nil || !strings.HasPrefix(err.Error(), "worker 1: dial: ") {
				t.Errorf("Gather error = %v", err)
			}
		})
	}
}

// With nothing at all to serve, ContinueOnError still answers 500.
func TestMetricsGathererAllDown(t *testing.T) {
	dial, stop := workers(t, newWorker(false).handler())
	stop(0)
	code, _, errLog := serveMaster(t, metricsGatherer(1, dial, nil, time.Second))
	if code != http.StatusInternalServerError || !strings.Contains(errLog, "worker 0: dial: ") {
		t.Errorf("status %d, log %q", code, errLog)
	}
}

func TestMetricsGathererTimeout(t *testing.T) {
	for _, hang := range []bool{false, true} {
		t.Run(fmt.Sprintf("hang=%v", hang), func(t *testing.T) {
			const timeout = 300 * time.Millisecond
			delay := 20 * time.Millisecond
			if hang {
				delay = time.Minute
			}
			slow := newWorker(false)
			slow.reqs.WithLabelValues("a").Inc()
			slowH := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				select {
				case <-time.After(delay):
				case <-r.Context().Done():
					return
				}
				slow.handler().ServeHTTP(w, r)
			})
			fast := newWorker(false)
			fast.reqs.WithLabelValues("a").Inc()
			dial, _ := workers(t, fast.handler(), slowH)
			g := metricsGatherer(2, dial, nil, timeout)

			start := time.Now()
			mfs, err := g.Gather()
			took := time.Since(start)
			if took > timeout+2*time.Second {
				t.Errorf("Gather took %v with timeout %v", took, timeout)
			}
			want := []string{"0", "1"}
			if hang {
				want = []string{"0"}
				if err == nil || !strings.Contains(err.Error(), "worker 1: no answer within 300ms") {
					t.Errorf("Gather error = %v", err)
				}
			} else if err != nil {
				t.Errorf("Gather: %v", err)
			}
			if got := workerSet(family(t, mfs, "forgeproof_requests_total")); !slices.Equal(got, want) {
				t.Errorf("workers: %v, want %v", got, want)
			}
		})
	}
}

// conflict sets up two workers that each export one extra family.
func conflict(t *testing.T, own prometheus.Gatherer, extra0, extra1 prometheus.Collector) ([]*dto.MetricFamily, error) {
	t.Helper()
	w0, w1 := newWorker(false), newWorker(false)
	w0.reqs.WithLabelValues("a").Inc()
	w1.reqs.WithLabelValues("a").Inc()
	w0.reg.MustRegister(extra0)
	w1.reg.MustRegister(extra1)
	dial, _ := workers(t, w0.handler(), w1.handler())
	mfs, err := metricsGatherer(2, dial, own, 5*time.Second).Gather()
	consistent(t, mfs)
	// A refused family never takes the worker's other families down.
	if got := workerSet(family(t, mfs, "forgeproof_requests_total")); !slices.Equal(got, []string{"0", "1"}) {
		t.Errorf("requests from workers %v", got)
	}
	return mfs, err
}

func counterVec(name, label string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: "h"}, []string{label})
	c.WithLabelValues("x").Inc()
	return c
}

func TestMetricsGathererWorkerLabel(t *testing.T) {
	for _, label := range []string{"shard", "worker"} {
		t.Run(label, func(t *testing.T) {
			mfs, err := conflict(t, nil, counterVec("extra_total", "shard"), counterVec("extra_total", label))
			got := workerSet(family(t, mfs, "extra_total"))
			if label == "shard" {
				if err != nil || !slices.Equal(got, []string{"0", "1"}) {
					t.Errorf("err %v, workers %v", err, got)
				}
				return
			}
			if err == nil || err.Error() != `worker 1: metric family "extra_total" already has a "worker" label; dropped` {
				t.Errorf("err = %v", err)
			}
			if !slices.Equal(got, []string{"0"}) {
				t.Errorf("workers %v, want [0]", got)
			}
		})
	}
}

func TestMetricsGathererTypeConflict(t *testing.T) {
	for _, clash := range []bool{false, true} {
		t.Run(fmt.Sprintf("clash=%v", clash), func(t *testing.T) {
			var second prometheus.Collector = counterVec("extra", "shard")
			if clash {
				second = prometheus.NewGauge(prometheus.GaugeOpts{Name: "extra", Help: "h"})
			}
			mfs, err := conflict(t, nil, counterVec("extra", "shard"), second)
			mf := family(t, mfs, "extra")
			got := workerSet(mf)
			if mf.GetType() != dto.MetricType_COUNTER {
				t.Errorf("type %v, want the first seen (counter)", mf.GetType())
			}
			if !clash {
				if err != nil || !slices.Equal(got, []string{"0", "1"}) {
					t.Errorf("err %v, workers %v", err, got)
				}
				return
			}
			if err == nil || err.Error() != `worker 1: metric family "extra" has type GAUGE, but COUNTER was seen first; dropped` {
				t.Errorf("err = %v", err)
			}
			if !slices.Equal(got, []string{"0"}) {
				t.Errorf("workers %v, want [0]", got)
			}
		})
	}
}

func TestMetricsGathererOwnClash(t *testing.T) {
	for _, name := range []string{"extra_total", "forgeproof_reloads_total"} {
		t.Run(name, func(t *testing.T) {
			mfs, err := conflict(t, ownRegistry(), counterVec(name, "shard"), counterVec(name, "shard"))
			own := family(t, mfs, "forgeproof_reloads_total")
			if len(own.Metric) != 1 || labels(own.Metric[0]) != "" || own.Metric[0].GetCounter().GetValue() != 7 {
				t.Errorf("own family not kept as is: %v", own)
			}
			if name == "extra_total" {
				if err != nil {
					t.Errorf("err %v", err)
				}
				return
			}
			var me prometheus.MultiError
			if !errors.As(err, &me) || len(me) != 2 ||
				me[0].Error() != `worker 0: metric family "forgeproof_reloads_total" is also exported by the master; dropped` ||
				!strings.HasPrefix(me[1].Error(), "worker 1: ") {
				t.Errorf("err = %v", err)
			}
		})
	}
}

// A worker may answer in another format, or badly.
func TestMetricsGathererAnswers(t *testing.T) {
	const text = `# HELP t_total A counter.
# TYPE t_total counter
t_total{route="a"} 3
# HELP t_seconds A histogram.
# TYPE t_seconds histogram
t_seconds_bucket{le="1"} 2
t_seconds_bucket{le="+Inf"} 3
t_seconds_sum 4.5
t_seconds_count 3
`
	for _, tc := range []struct {
		name, ctype, body string
		code              int
		err               string
	}{
		{name: "text", ctype: "text/plain; version=0.0.4; charset=utf-8", body: text, code: 200},
		{name: "status", ctype: "text/plain", body: "overloaded", code: 503, err: "worker 0: GET /metrics: status 503 Service Unavailable"},
		{name: "garbage", ctype: "text/html", body: "<html>", code: 200, err: `worker 0: decode "text/html": `},
		{name: "proto-garbage", ctype: string(expfmt.NewFormat(expfmt.TypeProtoDelim)), body: "\x05abc", code: 200, err: "worker 0: decode "},
		{name: "huge", ctype: "text/plain", body: strings.Repeat("#\n", maxMetricsBody/2+1), code: 200, err: "worker 0: GET /metrics: answer exceeds"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var accept string
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				accept = r.Header.Get("Accept")
				mu.Unlock()
				w.Header().Set("Content-Type", tc.ctype)
				w.WriteHeader(tc.code)
				w.Write([]byte(tc.body))
			})
			dial, _ := workers(t, h)
			mfs, err := metricsGatherer(1, dial, nil, 5*time.Second).Gather()
			mu.Lock()
			if accept != "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited" {
				t.Errorf("Accept: %q", accept)
			}
			mu.Unlock()
			if tc.err != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tc.err) {
					t.Errorf("err = %v, want prefix %q", err, tc.err)
				}
				if len(mfs) != 0 {
					t.Errorf("kept %d families from a bad answer", len(mfs))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			consistent(t, mfs)
			c := family(t, mfs, "t_total")
			if c.GetType() != dto.MetricType_COUNTER || labels(c.Metric[0]) != "route=a,worker=0" || c.Metric[0].GetCounter().GetValue() != 3 {
				t.Errorf("counter: %v", c)
			}
			hist := family(t, mfs, "t_seconds")
			if hist.GetType() != dto.MetricType_HISTOGRAM || hist.Metric[0].GetHistogram().GetSampleCount() != 3 || labels(hist.Metric[0]) != "worker=0" {
				t.Errorf("histogram: %v", hist)
			}
		})
	}
}
