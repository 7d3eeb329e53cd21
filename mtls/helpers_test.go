package mtls_test

import (
	"encoding/base64"

	"github.com/forgeproof/forgeproof/mtls"
)

func b64Pin(id mtls.Identity) string { return base64.StdEncoding.EncodeToString(id.SPKISHA256[:]) }
