package mtls

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
)

// settle is how long Watch waits after the last change to a file before
// it reloads, so that a certificate and its key written one after the
// other are read together.
const settle = 200 * time.Millisecond

// Watch reloads the state when one of the configured files changes and
// every ServerConfig.ReloadInterval, until ctx is done, reporting every
// attempt to ServerConfig.OnReload. It watches the folders of the files,
// so files replaced by rename (atomic writes, Kubernetes secret volumes)
// are seen. It returns ctx.Err(), or an error if it cannot watch.
//
// Run it in its own goroutine: go s.Watch(ctx).
func (s *Server) Watch(ctx context.Context) error {
	files := s.files()
	var events <-chan fsnotify.Event
	var errs <-chan error
	watched := map[string]bool{}
	if len(files) > 0 {
		w, err := fsnotify.NewWatcher()
		if err != nil {
			return fmt.Errorf("mtls: watch: %w", err)
		}
		defer w.Close()
		dirs := map[string]bool{}
		for _, f := range files {
			abs, err := filepath.Abs(f)
			if err != nil {
				return fmt.Errorf("mtls: watch %s: %w", f, err)
			}
			watched[abs] = true
			dirs[filepath.Dir(abs)] = true
		}
		for d := range dirs {
			if err := w.Add(d); err != nil {
				return fmt.Errorf("mtls: watch %s: %w", d, err)
			}
		}
		events, errs = w.Events, w.Errors
	}
	var tick <-chan time.Time
	if s.cfg.ReloadInterval > 0 {
		t := time.NewTicker(s.cfg.ReloadInterval)
		defer t.Stop()
		tick = t.C
	}
	pending := time.NewTimer(settle)
	pending.Stop()
	defer pending.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case ev, ok := <-events:
			if !ok {
				return fmt.Errorf("mtls: watch: watcher closed")
			}
			// "..data" is the symlink Kubernetes swaps to update a secret.
			if watched[filepath.Clean(ev.Name)] || strings.HasPrefix(filepath.Base(ev.Name), "..data") {
				pending.Reset(settle)
			}
		case err, ok := <-errs:
			if ok && s.cfg.OnReload != nil {
				s.cfg.OnReload(fmt.Errorf("mtls: watch: %w", err))
			}
		case <-tick:
			s.reloadAndReport()
		case <-pending.C:
			s.reloadAndReport()
		}
	}
}

func (s *Server) reloadAndReport() {
	err := s.Reload()
	if s.cfg.OnReload != nil {
		s.cfg.OnReload(err)
	}
}

// files lists the files the configuration reads.
func (s *Server) files() []string {
	var fs []string
	names := []string{s.cfg.CertFile, s.cfg.KeyFile, s.cfg.ClientCAFile}
	for _, c := range s.cfg.Certificates {
		names = append(names, c.CertFile, c.KeyFile)
	}
	for _, f := range names {
		if f != "" {
			fs = append(fs, f)
		}
	}
	return append(fs, s.cfg.CRLFiles...)
}
