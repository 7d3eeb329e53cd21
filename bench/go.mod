module github.com/forgeproof/forgeproof/bench

go 1.26.0

require (
	filippo.io/csrf v0.2.1
	github.com/forgeproof/forgeproof v0.0.0
	github.com/gorilla/csrf v1.7.3
	github.com/justinas/nosurf v1.2.0
)

require (
	github.com/gorilla/securecookie v1.1.2 // indirect
	github.com/spiffe/go-spiffe/v2 v2.9.0 // indirect
	golang.org/x/crypto v0.59.0 // indirect
	software.sslmate.com/src/go-pkcs12 v0.7.4 // indirect
)

replace github.com/forgeproof/forgeproof => ../
