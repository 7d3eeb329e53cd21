module github.com/forgeproof/forgeproof/bench

go 1.26.0

require github.com/forgeproof/forgeproof v0.0.0

require (
	github.com/spiffe/go-spiffe/v2 v2.9.0 // indirect
	golang.org/x/crypto v0.59.0 // indirect
	software.sslmate.com/src/go-pkcs12 v0.7.4 // indirect
)

replace github.com/forgeproof/forgeproof => ../
