package mtls

import (
	"context"
	"fmt"
	"time"

	"github.com/forgeproof/forgeproof/internal/watch"
)

// settle is how long Watch waits after the last change to a file before
// it reloads, so that a certificate and its key written one after the
// other are read together.
const settle = 200 * time.Millisecond

// Watch reloads the state when the contents of one of the configured files
// change, until ctx is done, reporting every attempt to
// ServerConfig.OnReload; it returns ctx.Err(). It watches the folders of
// the files, so files replaced by rename (atomic writes) and Kubernetes
// secret volumes (which swap a "..data" symlink) are seen, waits for a
// burst of writes to settle, and reloads only when a file's contents
// (by SHA-256) or permission bits changed: a touch or a write of the
// same bytes is no reload. It also reads the files every
// ServerConfig.ReloadInterval; a change found so is read again after the
// settle time and reloaded once both reads agree, so a file caught
// mid-write is not loaded.
//
// Where file events are unavailable (the system's watch limit is
// reached, say), Watch reports that to OnReload as an error and polls
// instead: every ReloadInterval, or every 10 seconds when it is zero.
//
// Run it in its own goroutine: go s.Watch(ctx).
func (s *Server) Watch(ctx context.Context) error {
	w, onChange, err := s.watcher(nil)
	if err != nil {
		return err
	}
	return w.Run(ctx, onChange)
}

// watcher builds Watch's watcher and what it calls on a change; tune, when
// not nil, adjusts the watcher's options (tests).
func (s *Server) watcher(tune func(*watch.Options)) (*watch.Watcher, func(watch.Change) error, error) {
	o := watch.Options{
		Files:    s.files,
		Baseline: func() watch.Sums { return s.state.Load().sums },
		Interval: s.cfg.ReloadInterval,
		Settle:   settle,
		OnError: func(err error) {
			if s.cfg.OnReload != nil {
				s.cfg.OnReload(fmt.Errorf("mtls: %w", err))
			}
		},
	}
	if tune != nil {
		tune(&o)
	}
	w, err := watch.New(o)
	if err != nil {
		return nil, nil, fmt.Errorf("mtls: %w", err)
	}
	return w, func(watch.Change) error {
		err := s.Reload()
		if s.cfg.OnReload != nil {
			s.cfg.OnReload(err)
		}
		return err
	}, nil
}

// files lists the files the configuration reads.
func (s *Server) files() []string {
	var fs []string
	add := func(f string) {
		if f != "" {
			fs = append(fs, f)
		}
	}
	for _, c := range s.cfg.Certificates {
		add(c.CertFile)
		add(c.KeyFile)
	}
	for _, src := range s.cfg.ClientCAs {
		add(src.File)
	}
	for _, src := range s.cfg.CRLs {
		add(src.File)
	}
	return fs
}
