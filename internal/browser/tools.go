package browser

import (
	"errors"
	"fmt"
	"os/exec"
	"strings"
)

// RequireEnv is the environment variable that, set to "require", turns a
// missing browser or NSS tool from a skipped test into a failed one (CI
// sets it; a developer's plain "go test ./..." does not), and set to
// "skip", skips the browser tests even where the tools are installed. Any
// other value fails the tests, so that a typo cannot skip them silently.
const RequireEnv = "FORGEPROOF_E2E"

// BrowserEnv is the environment variable that names the Chromium binary to
// use instead of searching PATH for it.
const BrowserEnv = "FORGEPROOF_E2E_BROWSER"

// InstallHint says how to get the tools on Debian and how to make their
// absence fail the tests.
const InstallHint = "install them with \"apt-get install -y chromium libnss3-tools\" " +
	"and run \"" + RequireEnv + "=require go test ./e2e/\""

// ErrMissingTool reports that a program the browser tests need is not
// installed. FindTools wraps it.
var ErrMissingTool = errors.New("browser: missing tool")

// Tools holds the absolute paths of the programs a Browser needs.
type Tools struct {
	// Chromium is a full Chromium or Chrome. chromium-headless-shell does
	// not qualify: it never presents a client certificate.
	Chromium string
	// Certutil and Pk12util are the NSS tools (Debian: libnss3-tools).
	Certutil string
	Pk12util string
}

// chromiumNames are the binaries tried in order when BrowserEnv is unset.
// headless_shell and chromium-headless-shell are left out on purpose.
var chromiumNames = []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"}

// FindTools looks the tools up in PATH. browser, when not empty, is the
// Chromium binary to use (a path or a name in PATH). The error wraps
// ErrMissingTool and names every missing program.
func FindTools(browser string) (Tools, error) {
	var t Tools
	var missing []string
	if browser != "" {
		p, err := exec.LookPath(browser)
		if err != nil {
			missing = append(missing, fmt.Sprintf("browser %q", browser))
		}
		t.Chromium = p
	} else {
		for _, name := range chromiumNames {
			if p, err := exec.LookPath(name); err == nil {
				t.Chromium = p
				break
			}
		}
		if t.Chromium == "" {
			missing = append(missing, "chromium")
		}
	}
	for _, tool := range []struct {
		name string
		dst  *string
	}{{"certutil", &t.Certutil}, {"pk12util", &t.Pk12util}} {
		p, err := exec.LookPath(tool.name)
		if err != nil {
			missing = append(missing, tool.name)
			continue
		}
		*tool.dst = p
	}
	if len(missing) > 0 {
		return Tools{}, fmt.Errorf("%w: %s not found in PATH", ErrMissingTool, strings.Join(missing, ", "))
	}
	return t, nil
}
