package workers

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

// maxMetricsBody bounds what one worker's /metrics answer may hold
// (after transparent gzip decoding).
const maxMetricsBody = 16 << 20

// workerLabel is added to every sample a worker exports.
const workerLabel = "worker"

// metricsGatherer returns a prometheus.Gatherer whose Gather GETs
// /metrics from each of n workers' admin sockets (dial(ctx, i) opens a
// connection to worker i's admin HTTP server) and merges what they
// answer with own's families (the master's own registry; may be nil).
//
// A worker that fails does not fail the scrape: Gather returns what it
// has together with a prometheus.MultiError naming each failure.
func metricsGatherer(n int, dial func(ctx context.Context, worker int) (net.Conn, error), own prometheus.Gatherer, timeout time.Duration) prometheus.Gatherer {
	g := &workerGatherer{own: own, timeout: timeout}
	for i := range n {
		// One client per worker: the URL host is a placeholder, so a
		// shared Transport would pool a connection to worker 0 and hand
		// it out for worker 1.
		g.clients = append(g.clients, &http.Client{Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				c, err := dial(ctx, i)
				if err != nil {
					return nil, fmt.Errorf("dial: %w", err)
				}
				return c, nil
			},
			MaxIdleConnsPerHost: 1,
			IdleConnTimeout:     time.Minute,
		}})
	}
	return g
}

type workerGatherer struct {
	own     prometheus.Gatherer
	timeout time.Duration
	clients []*http.Client
}

func (g *workerGatherer) Gather() ([]*dto.MetricFamily, error) {
	type result struct {
		mfs []*dto.MetricFamily
		err error
	}
	results := make([]result, len(g.clients))
	var wg sync.WaitGroup
	for i, c := range g.clients {
		wg.Go(func() {
			mfs, err := g.fetch(i, c)
			results[i] = result{mfs, err}
		})
	}

	var errs prometheus.MultiError
	byName := map[string]*dto.MetricFamily{}
	ownNames := map[string]bool{}
	if g.own != nil {
		mfs, err := g.own.Gather()
		if err != nil {
			errs = append(errs, fmt.Errorf("master: %w", err))
		}
		for _, mf := range mfs {
			// Copy the family so appending worker metrics never
			// touches what own handed us.
			byName[mf.GetName()] = &dto.MetricFamily{
				Name: mf.Name, Help: mf.Help, Type: mf.Type, Unit: mf.Unit,
				Metric: slices.Clone(mf.Metric),
			}
			ownNames[mf.GetName()] = true
		}
	}

	wg.Wait()
	// Merge in worker order, not arrival order, so that "first seen"
	// and the order of metrics are the same on every scrape.
	for i, r := range results {
		if r.err != nil {
			errs = append(errs, fmt.Errorf("worker %d: %w", i, r.err))
			continue
		}
		for _, mf := range r.mfs {
			if err := merge(byName, ownNames, i, mf); err != nil {
				errs = append(errs, fmt.Errorf("worker %d: %w", i, err))
			}
		}
	}

	out := make([]*dto.MetricFamily, 0, len(byName))
	for _, mf := range byName {
		out = append(out, mf)
	}
	slices.SortFunc(out, func(a, b *dto.MetricFamily) int {
		return strings.Compare(a.GetName(), b.GetName())
	})
	return out, errs.MaybeUnwrap()
}

// fetch GETs worker i's /metrics and decodes every family. Any failure
// discards the whole answer rather than merging half of it.
func (g *workerGatherer) fetch(i int, c *http.Client) ([]*dto.MetricFamily, error) {
	ctx, cancel := context.WithTimeout(context.Background(), g.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://worker/metrics", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", string(expfmt.NewFormat(expfmt.TypeProtoDelim)))
	resp, err := c.Do(req)
	if err != nil {
		return nil, clientErr(ctx, g.timeout, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /metrics: status %s", resp.Status)
	}
	// Read it all first: the proto decoder has no size limit, and a
	// LimitReader alone would make a cut at a message boundary look
	// like a clean end.
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxMetricsBody+1))
	if err != nil {
		return nil, clientErr(ctx, g.timeout, err)
	}
	if len(body) > maxMetricsBody {
		return nil, fmt.Errorf("GET /metrics: answer exceeds %d bytes", maxMetricsBody)
	}
	dec := expfmt.NewDecoder(bytes.NewReader(body), expfmt.ResponseFormat(resp.Header))
	var mfs []*dto.MetricFamily
	for {
		mf := &dto.MetricFamily{}
		if err := dec.Decode(mf); err == io.EOF {
			return mfs, nil
		} else if err != nil {
			return nil, fmt.Errorf("decode %q: %w", resp.Header.Get("Content-Type"), err)
		}
		mfs = append(mfs, mf)
	}
}

// clientErr turns a client error into a short message: the url.Error
// wrapper only repeats the placeholder URL.
func clientErr(ctx context.Context, timeout time.Duration, err error) error {
	if ctx.Err() == context.DeadlineExceeded {
		return fmt.Errorf("no answer within %v: %w", timeout, ctx.Err())
	}
	if ue, ok := errors.AsType[*url.Error](err); ok {
		return ue.Err
	}
	return err
}

// merge adds worker i's family mf to byName, labelling each sample.
// It refuses the whole family on any conflict.
func merge(byName map[string]*dto.MetricFamily, ownNames map[string]bool, i int, mf *dto.MetricFamily) error {
	name := mf.GetName()
	if ownNames[name] {
		return fmt.Errorf("metric family %q is also exported by the master; dropped", name)
	}
	have, ok := byName[name]
	if ok && have.GetType() != mf.GetType() {
		return fmt.Errorf("metric family %q has type %s, but %s was seen first; dropped", name, mf.GetType(), have.GetType())
	}
	id := strconv.Itoa(i)
	for _, m := range mf.Metric {
		for _, l := range m.Label {
			if l.GetName() == workerLabel {
				return fmt.Errorf("metric family %q already has a %q label; dropped", name, workerLabel)
			}
		}
	}
	for _, m := range mf.Metric {
		m.Label = append(m.Label, &dto.LabelPair{Name: new(workerLabel), Value: new(id)})
		// client_model wants label pairs sorted by name.
		slices.SortFunc(m.Label, func(a, b *dto.LabelPair) int {
			return strings.Compare(a.GetName(), b.GetName())
		})
	}
	if !ok {
		have = &dto.MetricFamily{Name: mf.Name, Help: mf.Help, Type: mf.Type, Unit: mf.Unit}
		byName[name] = have
	}
	have.Metric = append(have.Metric, mf.Metric...)
	return nil
}
