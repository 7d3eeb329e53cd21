package envoy_test

import (
	"context"
	"log"
	"os"
	"os/signal"

	"github.com/forgeproof/forgeproof/authz/envoy"
	"github.com/forgeproof/forgeproof/gateway"
)

// "forgeproof authz" for Envoy, from Go: a config with authz.proxy envoy
// (docs/integrations/envoy/forgeproof.yaml), served on authz.address
// until interrupted.
func Example() {
	g, err := gateway.NewFromFile("forgeproof.yaml", gateway.Options{LogTo: os.Stderr})
	if err != nil {
		log.Fatal(err) // every problem, with file:line: key
	}
	s := envoy.NewServer(g)
	if err := s.Listen(); err != nil {
		log.Fatal(err)
	}
	log.Printf("ext_authz on %s", s.Addr())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := s.Serve(ctx); err != nil {
		log.Fatal(err)
	}
}
