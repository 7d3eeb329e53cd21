package mtls

import (
	"testing"
	"unsafe"
)

// TestConnCacheHotFields: what CheckConn reads on every request of a
// connection (once's flag, leaf, ok, checked) lies in the ConnCache's
// first 64 bytes, one cache line where the ConnCache starts on one; the
// Identity, read only through a pointer, comes after.
func TestConnCacheHotFields(t *testing.T) {
	var c ConnCache
	if end := unsafe.Offsetof(c.checked) + unsafe.Sizeof(c.checked); end > 64 {
		t.Errorf("checked ends at byte %d of ConnCache, want within the first 64", end)
	}
	if unsafe.Offsetof(c.id) < unsafe.Offsetof(c.checked) {
		t.Error("the identity comes before checked")
	}
}
