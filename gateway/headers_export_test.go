package gateway

// Switches for the negative controls of the header checks (headers.go).
// Not for parallel tests: each test that turns one off turns it back on.

// SetUpgradeCheck turns the Upgrade stripping and the refusal of unasked
// 101 answers on or off.
func SetUpgradeCheck(on bool) { upgradeCheckOff.Store(!on) }

// SetUnderscoreCheck turns the dropping of names with '_' on or off.
func SetUnderscoreCheck(on bool) { underscoreCheckOff.Store(!on) }

// SetIdentityLikeCheck turns the dropping of other products' identity
// headers on or off.
func SetIdentityLikeCheck(on bool) { identityLikeCheckOff.Store(!on) }

// SetChunkedClose turns closing the connection after a chunked HTTP/1.1
// request on or off.
func SetChunkedClose(on bool) { chunkedCloseOff.Store(!on) }
