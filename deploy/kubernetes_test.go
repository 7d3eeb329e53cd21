// Package deploy tests the Kubernetes manifests in kubernetes/ (and the
// Istio guide's, docs/integrations/envoy/istio-authz.yaml) and the
// Dockerfile at the repository's root. It is a module of its own, so
// that the Kubernetes API types stay out of forgeproof's go.mod; .ci/run
// runs it:
//
//	cd deploy && go test -count=1 ./...
package deploy

import (
	"bufio"
	"bytes"
	"debug/elf"
	"encoding/base64"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"

	"github.com/forgeproof/forgeproof/csrf"
	"github.com/forgeproof/forgeproof/gateway"
	"github.com/forgeproof/forgeproof/pki"
)

// manifests are the decoded objects of kubernetes/*.yaml (or of another
// manifest file).
type manifests struct {
	namespaces  []*corev1.Namespace
	deployments []*appsv1.Deployment
	services    []*corev1.Service
	configMaps  map[string]*corev1.ConfigMap
	pdbs        []*policyv1.PodDisruptionBudget
	policies    []*networkingv1.NetworkPolicy
}

// decodeStrict decodes one YAML document into the typed object of its
// kind; unknown fields and unknown kinds are errors.
func decodeStrict(doc []byte, m *manifests) error {
	var meta struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
	}
	if err := yaml.Unmarshal(doc, &meta); err != nil {
		return err
	}
	var obj any
	switch meta.APIVersion + " " + meta.Kind {
	case "v1 Namespace":
		n := &corev1.Namespace{}
		m.namespaces, obj = append(m.namespaces, n), n
	case "apps/v1 Deployment":
		d := &appsv1.Deployment{}
		m.deployments, obj = append(m.deployments, d), d
	case "v1 Service":
		s := &corev1.Service{}
		m.services, obj = append(m.services, s), s
	case "v1 ConfigMap":
		c := &corev1.ConfigMap{}
		obj = c
		defer func() { m.configMaps[c.Name] = c }()
	case "networking.k8s.io/v1 NetworkPolicy":
		n := &networkingv1.NetworkPolicy{}
		m.policies, obj = append(m.policies, n), n
	case "policy/v1 PodDisruptionBudget":
		p := &policyv1.PodDisruptionBudget{}
		m.pdbs, obj = append(m.pdbs, p), p
	default:
		return fmt.Errorf("unknown apiVersion %q kind %q", meta.APIVersion, meta.Kind)
	}
	return yaml.UnmarshalStrict(doc, obj)
}

// splitDocs splits a YAML stream at its "---" lines, dropping empty
// documents.
func splitDocs(data []byte) [][]byte {
	var out [][]byte
	for _, d := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(data), -1) {
		if strings.TrimSpace(stripComments(d)) != "" {
			out = append(out, []byte(d))
		}
	}
	return out
}

func stripComments(s string) string {
	var b strings.Builder
	for _, l := range strings.Split(s, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

func load(t *testing.T) *manifests {
	t.Helper()
	files, err := filepath.Glob("kubernetes/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in kubernetes/: %v", err)
	}
	m := &manifests{configMaps: map[string]*corev1.ConfigMap{}}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range splitDocs(data) {
			if err := decodeStrict(doc, m); err != nil {
				t.Fatalf("%s, document %d: %v", f, i+1, err)
			}
		}
	}
	if len(m.deployments) != 1 || len(m.services) != 1 || len(m.pdbs) != 1 || len(m.policies) != 1 {
		t.Fatalf("want one Deployment, Service, PodDisruptionBudget and NetworkPolicy; got %d, %d, %d, %d", len(m.deployments), len(m.services), len(m.pdbs), len(m.policies))
	}
	return m
}

// TestStrictDecoding is the negative control of load: a misspelt field
// (here a probe's, as a typo would) fails the decoding.
func TestStrictDecoding(t *testing.T) {
	data, err := os.ReadFile("kubernetes/deployment.yaml")
	if err != nil {
		t.Fatal(err)
	}
	m := &manifests{configMaps: map[string]*corev1.ConfigMap{}}
	if err := decodeStrict(data, m); err != nil {
		t.Fatalf("deployment.yaml: %v", err)
	}
	bad := bytes.Replace(data, []byte("periodSeconds: 2"), []byte("periodSecond: 2"), 1)
	if bytes.Equal(bad, data) {
		t.Fatal("the probe to misspell is gone")
	}
	if err := decodeStrict(bad, m); err == nil || !strings.Contains(err.Error(), "periodSecond") {
		t.Fatalf("a misspelt field: got %v, want an unknown-field error", err)
	}
	if err := decodeStrict([]byte("apiVersion: v1\nkind: Pod\n"), m); err == nil {
		t.Fatal("an unexpected kind was accepted")
	}
}

// TestManifests checks the manifests against each other and against the
// config they mount, which the gateway's own loader reads from a folder
// laid out as the projected volume would be.
func TestManifests(t *testing.T) {
	m := load(t)
	d := m.deployments[0]
	spec := d.Spec.Template.Spec
	podLabels := labels.Set(d.Spec.Template.Labels)

	if d.Spec.Replicas == nil || *d.Spec.Replicas < 2 {
		t.Errorf("replicas: got %v, want at least 2", d.Spec.Replicas)
	}
	if sel, err := metav1Selector(d.Spec.Selector.MatchLabels); err != nil || !sel.Matches(podLabels) {
		t.Errorf("the Deployment's selector does not match its pods")
	}
	sc := spec.SecurityContext
	if sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.RunAsUser == nil || *sc.RunAsUser == 0 {
		t.Errorf("pod securityContext: want runAsNonRoot and a non-zero runAsUser, got %+v", sc)
	}
	if len(spec.Containers) != 1 {
		t.Fatalf("want one container, got %d", len(spec.Containers))
	}
	c := spec.Containers[0]
	csc := c.SecurityContext
	if csc == nil || csc.ReadOnlyRootFilesystem == nil || !*csc.ReadOnlyRootFilesystem {
		t.Error("container: want readOnlyRootFilesystem")
	}
	if csc == nil || csc.AllowPrivilegeEscalation == nil || *csc.AllowPrivilegeEscalation {
		t.Error("container: want allowPrivilegeEscalation false")
	}
	if csc == nil || csc.Capabilities == nil || len(csc.Capabilities.Drop) != 1 || csc.Capabilities.Drop[0] != "ALL" {
		t.Error("container: want capabilities drop ALL")
	}
	if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() {
		t.Error("container: want cpu and memory requests")
	}
	if len(c.Command) != 0 || len(c.Args) == 0 || c.Args[0] != "serve" {
		t.Errorf("container: want the image's entrypoint with args serve …, got command %q args %q", c.Command, c.Args)
	}

	// The config file the container is told to read, found in the
	// projected volume.
	configPath := flagValue(t, c.Args, "--config")
	files := projectedFiles(t, m, spec, c) // absolute path in the container → content source
	src, ok := files[configPath]
	if !ok {
		t.Fatalf("--config %s is not a file of a mounted volume (have %v)", configPath, keys(files))
	}
	cm := m.configMaps[src.name]
	if cm == nil || src.kind != "configMap" {
		t.Fatalf("--config %s comes from %s %q, want a ConfigMap in kubernetes/", configPath, src.kind, src.name)
	}
	cfg := loadMountedConfig(t, files, configPath, cm.Data[src.key])

	// The process can read every file it is given: the kubelet makes them
	// root's, so a non-root user reads them through the fsGroup (or
	// world-readable modes, which the key ring refuses).
	if uid, groups, ok := processIDs(spec, c); ok {
		for p, s := range files {
			if !s.readableBy(uid, groups) {
				t.Errorf("%s (mode %04o, owner 0, group %d) cannot be read by uid %d with groups %v: set the pod's fsGroup", p, s.mode, s.gid, uid, groups)
			}
		}
	} else {
		t.Error("the pod's securityContext sets no runAsUser: the files' readability cannot be checked")
	}
	// A RuntimeDefault (or Localhost) seccomp profile, as the restricted
	// Pod Security Standard requires.
	if sp := seccomp(spec, c); sp == nil || (sp.Type != corev1.SeccompProfileTypeRuntimeDefault && sp.Type != corev1.SeccompProfileTypeLocalhost) {
		t.Errorf("seccompProfile: got %+v, want RuntimeDefault or Localhost", sp)
	}

	// Every file the config names is in the volume.
	for _, f := range cfg.Files() {
		if _, ok := files[f]; !ok {
			t.Errorf("the config names %s, which no volume provides", f)
		}
	}
	// Ports: the listener and the admin listener are container ports, by
	// name; the Service targets the listener, the probes the admin port.
	if len(cfg.Listeners) != 1 {
		t.Fatalf("want one listener, got %d", len(cfg.Listeners))
	}
	port := func(name string) int32 {
		for _, p := range c.Ports {
			if p.Name == name {
				if p.Protocol != corev1.ProtocolTCP {
					t.Errorf("container port %s: protocol %s, want TCP", name, p.Protocol)
				}
				return p.ContainerPort
			}
		}
		t.Fatalf("no container port named %s", name)
		return 0
	}
	if got, want := port("https"), addrPort(t, cfg.Listeners[0].Address); got != want {
		t.Errorf("container port https %d, listener address %s", got, cfg.Listeners[0].Address)
	}
	adminPort := addrPort(t, cfg.Admin.Address)
	if got := port("admin"); got != adminPort {
		t.Errorf("container port admin %d, admin address %s", got, cfg.Admin.Address)
	}
	for _, p := range []struct {
		name  string
		probe *corev1.Probe
		path  string
	}{{"readiness", c.ReadinessProbe, "/readyz"}, {"liveness", c.LivenessProbe, "/healthz"}} {
		if p.probe == nil || p.probe.HTTPGet == nil {
			t.Errorf("%s probe: want an httpGet", p.name)
			continue
		}
		if p.probe.HTTPGet.Path != p.path || resolvePort(t, c, p.probe.HTTPGet.Port) != adminPort {
			t.Errorf("%s probe: got %s on port %s, want %s on the admin port %d", p.name, p.probe.HTTPGet.Path, p.probe.HTTPGet.Port.String(), p.path, adminPort)
		}
	}
	// The Service.
	svc := m.services[0]
	if !labels.SelectorFromSet(svc.Spec.Selector).Matches(podLabels) || len(svc.Spec.Selector) == 0 {
		t.Error("the Service's selector does not match the pods")
	}
	for _, sp := range svc.Spec.Ports {
		if sp.Protocol != corev1.ProtocolTCP {
			t.Errorf("Service port %s: protocol %s, want TCP", sp.Name, sp.Protocol)
		}
		if resolvePort(t, c, sp.TargetPort) == adminPort {
			t.Errorf("Service port %s exposes the admin listener", sp.Name)
		}
	}
	if len(svc.Spec.Ports) != 1 || resolvePort(t, c, svc.Spec.Ports[0].TargetPort) != port("https") {
		t.Errorf("the Service must send to the listener's port only: %+v", svc.Spec.Ports)
	}
	// The PodDisruptionBudget.
	pdb := m.pdbs[0]
	if sel, err := metav1Selector(pdb.Spec.Selector.MatchLabels); err != nil || !sel.Matches(podLabels) {
		t.Error("the PodDisruptionBudget's selector does not match the pods")
	}
	if pdb.Spec.MaxUnavailable == nil && pdb.Spec.MinAvailable == nil {
		t.Error("the PodDisruptionBudget sets neither maxUnavailable nor minAvailable")
	}
	// It lets a node drain evict a pod, and never every pod.
	if d.Spec.Replicas != nil {
		replicas := int(*d.Spec.Replicas)
		allowed := replicas
		if v := pdb.Spec.MaxUnavailable; v != nil {
			n, err := intstr.GetScaledValueFromIntOrPercent(v, replicas, true)
			if err != nil {
				t.Fatalf("PodDisruptionBudget maxUnavailable: %v", err)
			}
			allowed = min(allowed, n)
		}
		if v := pdb.Spec.MinAvailable; v != nil {
			n, err := intstr.GetScaledValueFromIntOrPercent(v, replicas, true)
			if err != nil {
				t.Fatalf("PodDisruptionBudget minAvailable: %v", err)
			}
			allowed = min(allowed, replicas-n)
		}
		if allowed < 1 || allowed >= replicas {
			t.Errorf("the PodDisruptionBudget allows %d of %d replicas down, want at least 1 (else node drains block) and fewer than all", allowed, replicas)
		}
	}
	// The NetworkPolicy: the listener is open, the admin port only to
	// named sources.
	np := m.policies[0]
	if sel, err := metav1Selector(np.Spec.PodSelector.MatchLabels); err != nil || !sel.Matches(podLabels) {
		t.Error("the NetworkPolicy's podSelector does not match the pods")
	}
	openPorts := map[int32]bool{}
	adminFrom := false
	for _, rule := range np.Spec.Ingress {
		for _, p := range rule.Ports {
			if p.Port == nil {
				t.Errorf("a NetworkPolicy rule allows every port")
				continue
			}
			n := resolvePort(t, c, *p.Port)
			if len(rule.From) == 0 {
				openPorts[n] = true
			} else if n == adminPort {
				adminFrom = true
			}
		}
		if len(rule.Ports) == 0 {
			t.Errorf("a NetworkPolicy rule allows every port")
		}
	}
	if openPorts[adminPort] || !adminFrom {
		t.Errorf("the admin port must be reachable from named sources only (open %v, restricted rule %v)", openPorts, adminFrom)
	}
	if !openPorts[port("https")] {
		t.Error("the NetworkPolicy does not let clients reach the listener")
	}
	// Egress: DNS and the upstreams' ports, each to named peers only, so
	// that a gateway made to connect elsewhere (the API server, the
	// cloud's metadata address) cannot.
	if !slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeEgress) {
		t.Error("the NetworkPolicy does not restrict egress (policyTypes lacks Egress)")
	}
	egress := map[string]bool{} // "53/UDP"
	for _, rule := range np.Spec.Egress {
		if len(rule.To) == 0 || len(rule.Ports) == 0 {
			t.Errorf("an egress rule allows every peer or every port: %+v", rule)
			continue
		}
		for _, peer := range rule.To {
			if b := peer.IPBlock; b != nil && strings.HasSuffix(b.CIDR, "/0") {
				t.Errorf("an egress rule allows every address: %s", b.CIDR)
			}
		}
		for _, p := range rule.Ports {
			if p.Port == nil || p.Port.Type != intstr.Int {
				t.Errorf("an egress rule's port must be a number: %+v", p)
				continue
			}
			proto := corev1.ProtocolTCP
			if p.Protocol != nil {
				proto = *p.Protocol
			}
			egress[fmt.Sprintf("%d/%s", p.Port.IntVal, proto)] = true
		}
	}
	if !egress["53/UDP"] || !egress["53/TCP"] {
		t.Errorf("egress to DNS (53/UDP and 53/TCP) not allowed: %v", egress)
	}
	for _, r := range cfg.Routes {
		u, err := url.Parse(r.Upstream)
		if err != nil {
			t.Fatalf("route %s: %v", r.Name, err)
		}
		// The Service's port, taken as the pods' (a NetworkPolicy sees
		// the pod's port): keep them equal, or edit both.
		p := u.Port()
		if p == "" {
			p = map[string]string{"http": "80", "https": "443"}[u.Scheme]
		}
		if !egress[p+"/TCP"] {
			t.Errorf("route %s: egress to its upstream %s (port %s/TCP) not allowed: %v", r.Name, r.Upstream, p, egress)
		}
	}
	// Go does not see the cgroup's memory limit: GOMEMLIMIT tells it.
	if !c.Resources.Limits.Memory().IsZero() {
		set := false
		for _, e := range c.Env {
			set = set || e.Name == "GOMEMLIMIT"
		}
		if !set {
			t.Errorf("a memory limit of %s without GOMEMLIMIT: the garbage collector does not know it, and the pod is OOM-killed first", c.Resources.Limits.Memory())
		}
	}
	// The drain fits the grace period: delay + grace, plus slack.
	lim := cfg.Limits
	grace := lim.ShutdownGrace
	if grace == 0 {
		grace = gateway.DefaultShutdownGrace
	}
	if spec.TerminationGracePeriodSeconds == nil || time.Duration(*spec.TerminationGracePeriodSeconds)*time.Second < lim.ShutdownDelay+grace+5*time.Second {
		t.Errorf("terminationGracePeriodSeconds %v < shutdown-delay %v + shutdown-grace %v + 5s", spec.TerminationGracePeriodSeconds, lim.ShutdownDelay, grace)
	}
	if lim.ShutdownDelay < time.Duration(c.ReadinessProbe.PeriodSeconds*c.ReadinessProbe.FailureThreshold)*time.Second {
		t.Errorf("shutdown-delay %v is shorter than the readiness probe's detection time", lim.ShutdownDelay)
	}
	// Prometheus scrape annotations name the admin port and /metrics.
	a := d.Spec.Template.Annotations
	if a["prometheus.io/scrape"] != "true" || a["prometheus.io/path"] != "/metrics" || a["prometheus.io/port"] != strconv.Itoa(int(adminPort)) {
		t.Errorf("prometheus annotations %v, want scrape true, path /metrics, port %d", a, adminPort)
	}
	// Certificates and keys come from Secrets; nothing secret from a
	// ConfigMap.
	for _, f := range []string{cfg.Listeners[0].TLS.KeyFile, cfg.Tokens.KeyFile} {
		if files[f].kind != "secret" {
			t.Errorf("%s comes from a %s, want a Secret", f, files[f].kind)
		}
	}
}

// seccomp is the container's seccomp profile, else the pod's.
func seccomp(spec corev1.PodSpec, c corev1.Container) *corev1.SeccompProfile {
	if c.SecurityContext != nil && c.SecurityContext.SeccompProfile != nil {
		return c.SecurityContext.SeccompProfile
	}
	if spec.SecurityContext != nil {
		return spec.SecurityContext.SeccompProfile
	}
	return nil
}

// istioDir holds the Istio guide's files (docs/integrations/envoy.md).
var istioDir = filepath.Join("..", "docs", "integrations", "envoy")

// TestIstioAuthzManifests decodes docs/integrations/envoy/istio-authz.yaml
// strictly and checks that it provides what istio.yaml points at: the
// extension provider's service (name, namespace, port) and the pods the
// callers' ALLOW policy selects, in a namespace with a sidecar (without
// one that policy would not apply); and that the config it mounts loads
// and serves gRPC ext_authz on the Service's port.
func TestIstioAuthzManifests(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(istioDir, "istio-authz.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	m := &manifests{configMaps: map[string]*corev1.ConfigMap{}}
	for i, doc := range splitDocs(data) {
		if err := decodeStrict(doc, m); err != nil {
			t.Fatalf("istio-authz.yaml, document %d: %v", i+1, err)
		}
	}
	if len(m.namespaces) != 1 || len(m.deployments) != 1 || len(m.services) != 1 || len(m.configMaps) != 1 {
		t.Fatalf("istio-authz.yaml: want one Namespace, Deployment, Service and ConfigMap; got %d, %d, %d, %d",
			len(m.namespaces), len(m.deployments), len(m.services), len(m.configMaps))
	}

	// What istio.yaml points at: the provider (document 1) and the
	// callers' policy (document 5).
	var istio []map[string]any
	idata, err := os.ReadFile(filepath.Join(istioDir, "istio.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range splitDocs(idata) {
		var v map[string]any
		if err := yaml.Unmarshal(doc, &v); err != nil {
			t.Fatalf("istio.yaml: %v", err)
		}
		istio = append(istio, v)
	}
	if len(istio) != 5 {
		t.Fatalf("istio.yaml: %d documents, want 5", len(istio))
	}
	var provider struct {
		MeshConfig struct {
			ExtensionProviders []struct {
				EnvoyExtAuthzGrpc struct {
					Service string `json:"service"`
					Port    int32  `json:"port"`
				} `json:"envoyExtAuthzGrpc"`
			} `json:"extensionProviders"`
		} `json:"meshConfig"`
	}
	var callers struct {
		Metadata struct {
			Namespace string `json:"namespace"`
		} `json:"metadata"`
		Spec struct {
			Selector struct {
				MatchLabels map[string]string `json:"matchLabels"`
			} `json:"selector"`
		} `json:"spec"`
	}
	for i, v := range []any{&provider, &callers} {
		b, err := yaml.Marshal(istio[[]int{0, 4}[i]])
		if err == nil {
			err = yaml.Unmarshal(b, v)
		}
		if err != nil {
			t.Fatalf("istio.yaml: %v", err)
		}
	}
	if len(provider.MeshConfig.ExtensionProviders) != 1 {
		t.Fatalf("istio.yaml: want one extension provider")
	}
	grpc := provider.MeshConfig.ExtensionProviders[0].EnvoyExtAuthzGrpc

	ns, d, svc := m.namespaces[0], m.deployments[0], m.services[0]
	if want := svc.Name + "." + svc.Namespace + ".svc.cluster.local"; grpc.Service != want {
		t.Errorf("istio.yaml's provider service %q, want the Service here, %q", grpc.Service, want)
	}
	for _, o := range []struct{ kind, ns string }{{"Deployment", d.Namespace}, {"Service", svc.Namespace}, {"callers' policy (istio.yaml)", callers.Metadata.Namespace}} {
		if o.ns != ns.Name {
			t.Errorf("the %s is in namespace %q, want %q", o.kind, o.ns, ns.Name)
		}
	}
	for _, cm := range m.configMaps {
		if cm.Namespace != ns.Name {
			t.Errorf("ConfigMap %s is in namespace %q, want %q", cm.Name, cm.Namespace, ns.Name)
		}
	}
	if ns.Labels["istio-injection"] != "enabled" {
		t.Errorf("namespace %s: labels %v, want istio-injection: enabled (the callers' policy needs a sidecar)", ns.Name, ns.Labels)
	}
	podLabels := labels.Set(d.Spec.Template.Labels)
	if sel, err := metav1Selector(d.Spec.Selector.MatchLabels); err != nil || !sel.Matches(podLabels) {
		t.Error("the Deployment's selector does not match its pods")
	}
	if sel, err := metav1Selector(callers.Spec.Selector.MatchLabels); err != nil || !sel.Matches(podLabels) {
		t.Errorf("istio.yaml's callers' policy selects %v, not the pods (%v)", callers.Spec.Selector.MatchLabels, podLabels)
	}
	if len(svc.Spec.Selector) == 0 || !labels.SelectorFromSet(svc.Spec.Selector).Matches(podLabels) {
		t.Error("the Service's selector does not match the pods")
	}

	// The config the container reads, laid out as the volume is.
	spec := d.Spec.Template.Spec
	if len(spec.Containers) != 1 {
		t.Fatalf("want one container, got %d", len(spec.Containers))
	}
	c := spec.Containers[0]
	if len(c.Command) != 0 || len(c.Args) == 0 || c.Args[0] != "authz" {
		t.Errorf("container: want the image's entrypoint with args authz …, got command %q args %q", c.Command, c.Args)
	}
	configPath := flagValue(t, c.Args, "--config")
	files := projectedFiles(t, m, spec, c)
	src, ok := files[configPath]
	if !ok || src.kind != "configMap" || m.configMaps[src.name] == nil {
		t.Fatalf("--config %s is not a file of a mounted ConfigMap here (have %v)", configPath, keys(files))
	}
	cfg := loadMountedConfig(t, files, configPath, m.configMaps[src.name].Data[src.key])
	if cfg.Authz == nil || cfg.Authz.Proxy != gateway.ProxyEnvoy {
		t.Fatalf("the mounted config has no authz section with proxy: envoy")
	}
	authzPort := addrPort(t, cfg.Authz.Address)
	if len(svc.Spec.Ports) != 1 {
		t.Fatalf("the Service: want one port, got %+v", svc.Spec.Ports)
	}
	sp := svc.Spec.Ports[0]
	if sp.Port != grpc.Port || resolvePort(t, c, sp.TargetPort) != authzPort {
		t.Errorf("Service port %d → %s, istio.yaml's provider port %d, authz.address %s: want all the same port", sp.Port, sp.TargetPort.String(), grpc.Port, cfg.Authz.Address)
	}
	if sp.AppProtocol == nil || *sp.AppProtocol != "grpc" {
		t.Error("the Service's port: want appProtocol grpc, so that Istio proxies it as HTTP/2")
	}
	adminPort := addrPort(t, cfg.Admin.Address)
	for _, p := range []struct {
		name  string
		probe *corev1.Probe
		path  string
	}{{"readiness", c.ReadinessProbe, "/readyz"}, {"liveness", c.LivenessProbe, "/healthz"}} {
		if p.probe == nil || p.probe.HTTPGet == nil || p.probe.HTTPGet.Path != p.path || resolvePort(t, c, p.probe.HTTPGet.Port) != adminPort {
			t.Errorf("%s probe: want an httpGet of %s on the admin port %d", p.name, p.path, adminPort)
		}
	}
}

// source is where a file of a projected volume comes from.
type source struct {
	kind, name, key string
	// mode and gid are the file's as the kubelet leaves it: owned by
	// root, group the pod's fsGroup (else root), with the volume's mode,
	// plus group and owner read with an fsGroup (SetVolumeOwnership ORs
	// 0440 into the files of a read-only volume).
	mode os.FileMode
	gid  int64
}

// readableBy reports whether a process with uid and groups can read a
// file of a volume (owned by root: only the group and other bits count
// for a non-root uid).
func (s source) readableBy(uid int64, groups []int64) bool {
	if uid == 0 || s.mode&0o004 != 0 {
		return true
	}
	return s.mode&0o040 != 0 && slices.Contains(groups, s.gid)
}

// processIDs are the uid and groups the container's process runs with,
// from the pod's and the container's securityContext; ok is false when
// the manifest does not say (the image's USER decides).
func processIDs(spec corev1.PodSpec, c corev1.Container) (uid int64, groups []int64, ok bool) {
	psc := spec.SecurityContext
	if psc == nil {
		psc = &corev1.PodSecurityContext{}
	}
	csc := c.SecurityContext
	if csc == nil {
		csc = &corev1.SecurityContext{}
	}
	u, g := psc.RunAsUser, psc.RunAsGroup
	if csc.RunAsUser != nil {
		u = csc.RunAsUser
	}
	if csc.RunAsGroup != nil {
		g = csc.RunAsGroup
	}
	if u == nil {
		return 0, nil, false
	}
	if g != nil {
		groups = append(groups, *g)
	}
	groups = append(groups, psc.SupplementalGroups...)
	if psc.FSGroup != nil {
		groups = append(groups, *psc.FSGroup)
	}
	return *u, groups, true
}

// projectedFiles maps the absolute path of every file the container's
// volume mounts provide to its source.
func projectedFiles(t *testing.T, m *manifests, spec corev1.PodSpec, c corev1.Container) map[string]source {
	t.Helper()
	out := map[string]source{}
	for _, vm := range c.VolumeMounts {
		if !vm.ReadOnly {
			t.Errorf("volume mount %s is not read-only", vm.Name)
		}
		if vm.SubPath != "" || vm.SubPathExpr != "" {
			t.Errorf("volume mount %s uses a subPath: the kubelet never updates it, so no rotation would reach the gateway", vm.Name)
		}
		var vol *corev1.Volume
		for i := range spec.Volumes {
			if spec.Volumes[i].Name == vm.Name {
				vol = &spec.Volumes[i]
			}
		}
		if vol == nil || vol.Projected == nil {
			t.Fatalf("volume %s: want a projected volume", vm.Name)
		}
		mode := os.FileMode(0o644)
		if vol.Projected.DefaultMode != nil {
			mode = os.FileMode(*vol.Projected.DefaultMode)
		}
		for _, s := range vol.Projected.Sources {
			var kind, name string
			var items []corev1.KeyToPath
			switch {
			case s.ConfigMap != nil:
				kind, name, items = "configMap", s.ConfigMap.Name, s.ConfigMap.Items
			case s.Secret != nil:
				kind, name, items = "secret", s.Secret.Name, s.Secret.Items
			default:
				t.Fatalf("volume %s: unexpected source %+v", vm.Name, s)
			}
			if len(items) == 0 {
				t.Fatalf("volume %s: %s %s lists no items: list the files, so a key added later cannot shadow one", vm.Name, kind, name)
			}
			for _, it := range items {
				p := path.Join(vm.MountPath, it.Path)
				if _, dup := out[p]; dup {
					t.Errorf("%s is provided twice", p)
				}
				md := mode
				if it.Mode != nil {
					md = os.FileMode(*it.Mode)
				}
				var gid int64
				if fsg := spec.SecurityContext; fsg != nil && fsg.FSGroup != nil {
					md |= 0o440
					gid = *fsg.FSGroup
				}
				out[p] = source{kind, name, it.Key, md, gid}
			}
		}
	}
	return out
}

// loadMountedConfig lays the volume's files out in a temporary folder
// (the ConfigMap's config; certificates, a CRL and a key ring made here
// for the Secrets' files, with the volume's file mode) and loads the
// config with gateway.LoadConfig. File names are mapped back to the
// container's paths.
func loadMountedConfig(t *testing.T, files map[string]source, configPath, config string) *gateway.Config {
	t.Helper()
	root := t.TempDir()
	ca, err := pki.NewCA(pki.CAOptions{CommonName: "deploy test CA"})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := ca.IssueServer(pki.ServerOptions{DNSNames: []string{"forgeproof.default.svc"}})
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, err := pki.EncodeKeyPEM(srv.Key)
	if err != nil {
		t.Fatal(err)
	}
	crl, err := ca.CreateCRL(pki.CRLOptions{Number: big.NewInt(1)})
	if err != nil {
		t.Fatal(err)
	}
	content := func(p string) []byte {
		switch path.Base(p) {
		case "server.pem":
			return pki.EncodeCertsPEM(srv.Cert)
		case "server-key.pem":
			return keyPEM
		case "ca.pem":
			return pki.EncodeCertsPEM(ca.Cert)
		case "crl.pem":
			return pki.EncodeCRLPEM(crl)
		}
		t.Fatalf("no content for %s", p)
		return nil
	}
	for p, s := range files {
		local := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(local), 0o755); err != nil {
			t.Fatal(err)
		}
		var data []byte
		switch {
		case p == configPath:
			data = []byte(config)
		case path.Base(p) == "csrf.key":
			data = []byte(b64(csrf.GenerateKey()) + "\n")
		default:
			data = content(p)
		}
		if err := os.WriteFile(local, data, 0o600); err != nil {
			t.Fatal(err)
		}
		// The mode the kubelet gives the file: the permission checks
		// of the loader see what a pod would.
		if err := os.Chmod(local, s.mode); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := gateway.LoadConfig(filepath.Join(root, filepath.FromSlash(configPath)))
	if err != nil {
		t.Fatalf("the mounted config does not load: %v", err)
	}
	back := func(p *string) {
		if *p != "" {
			rel, err := filepath.Rel(root, *p)
			if err != nil {
				t.Fatal(err)
			}
			*p = "/" + filepath.ToSlash(rel)
		}
	}
	for i := range cfg.Listeners {
		tl := &cfg.Listeners[i].TLS
		back(&tl.CertFile)
		back(&tl.KeyFile)
		for j := range tl.ClientCAFiles {
			back(&tl.ClientCAFiles[j])
		}
		for j := range tl.CRLFiles {
			back(&tl.CRLFiles[j])
		}
	}
	back(&cfg.Tokens.KeyFile)
	return cfg
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func flagValue(t *testing.T, args []string, name string) string {
	for i, a := range args {
		if a == name && i+1 < len(args) {
			return args[i+1]
		}
		if v, ok := strings.CutPrefix(a, name+"="); ok {
			return v
		}
	}
	t.Fatalf("args %q lack %s", args, name)
	return ""
}

func addrPort(t *testing.T, addr string) int32 {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("address %q: %v", addr, err)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatalf("address %q: %v", addr, err)
	}
	return int32(n)
}

func resolvePort(t *testing.T, c corev1.Container, p intstr.IntOrString) int32 {
	if p.Type == intstr.Int {
		return p.IntVal
	}
	for _, cp := range c.Ports {
		if cp.Name == p.StrVal {
			return cp.ContainerPort
		}
	}
	t.Fatalf("no container port named %q", p.StrVal)
	return 0
}

func metav1Selector(ml map[string]string) (labels.Selector, error) {
	if len(ml) == 0 {
		return nil, fmt.Errorf("empty selector")
	}
	return labels.SelectorFromSet(ml), nil
}

func keys(m map[string]source) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// ---- Dockerfile ----

// TestDockerfile checks the Dockerfile against the repository: what it
// copies exists, it builds ./cmd/forgeproof with CGO_ENABLED=0, the final
// stage is distroless or scratch, runs as a non-root user, and its
// entrypoint is the binary it copied.
func TestDockerfile(t *testing.T) {
	f, err := os.Open("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var stages []string
	var lastFrom, user, entry, built string
	var copied []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		instr, rest, _ := strings.Cut(line, " ")
		switch strings.ToUpper(instr) {
		case "FROM":
			lastFrom = strings.Fields(rest)[0]
			stages = append(stages, lastFrom)
			user, entry = "", ""
		case "COPY":
			fields := strings.Fields(rest)
			if strings.HasPrefix(fields[0], "--from=") {
				copied = append(copied, fields[len(fields)-1])
				continue
			}
			for _, src := range fields[:len(fields)-1] {
				if src == "." {
					continue
				}
				if _, err := os.Stat(filepath.Join("..", src)); err != nil {
					t.Errorf("COPY %s: not in the repository", src)
				}
			}
		case "RUN":
			if strings.Contains(rest, "go build") {
				if !strings.Contains(rest, "CGO_ENABLED=0") {
					t.Error("the go build is not CGO_ENABLED=0")
				}
				fields := strings.Fields(rest)
				pkg := fields[len(fields)-1]
				if _, err := os.Stat(filepath.Join("..", pkg, "main.go")); err != nil {
					t.Errorf("RUN go build %s: no such main package", pkg)
				}
				built = pkg
			}
		case "USER":
			user = rest
		case "ENTRYPOINT":
			entry = rest
		}
	}
	if len(stages) < 2 || built != "./cmd/forgeproof" {
		t.Fatalf("want a build stage that builds ./cmd/forgeproof and a final stage; got stages %q, build %q", stages, built)
	}
	if !strings.HasPrefix(lastFrom, "gcr.io/distroless/static") && lastFrom != "scratch" {
		t.Errorf("final stage FROM %s: want distroless static or scratch", lastFrom)
	}
	uid, _, _ := strings.Cut(user, ":")
	if n, err := strconv.Atoi(uid); err != nil || n == 0 {
		t.Errorf("USER %q: want a numeric non-root user (Kubernetes runAsNonRoot checks numbers)", user)
	}
	if len(copied) != 1 || !strings.Contains(entry, `"`+copied[0]+`"`) {
		t.Errorf("ENTRYPOINT %s does not run the copied binary %q", entry, copied)
	}
	// The Deployment runs as the same user.
	m := load(t)
	if u := m.deployments[0].Spec.Template.Spec.SecurityContext.RunAsUser; u == nil || strconv.FormatInt(*u, 10) != uid {
		t.Errorf("the Deployment's runAsUser %v is not the image's USER %s", u, uid)
	}
}

// TestStaticBuild builds the binary as the Dockerfile does and checks it
// is static (no ELF interpreter, no shared libraries: it runs on
// distroless static or scratch) and runs.
func TestStaticBuild(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "forgeproof")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, "./cmd/forgeproof")
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("CGO_ENABLED=0 go build: %v\n%s", err, out)
	}
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("the binary has an ELF interpreter: it is dynamically linked")
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) != 0 {
		t.Errorf("the binary needs shared libraries %v", libs)
	}
	if file, err := exec.LookPath("file"); err == nil {
		out, _ := exec.Command(file, bin).Output()
		if !bytes.Contains(out, []byte("statically linked")) {
			t.Errorf("file(1) says: %s", out)
		}
	}
	out, err := exec.Command(bin, "version").CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("forgeproof")) {
		t.Fatalf("forgeproof version: %v: %s", err, out)
	}
}
