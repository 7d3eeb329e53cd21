// Package workers runs "forgeproof serve" as several processes, as nginx
// runs worker processes: a master binds the listeners' addresses and the
// admin listener, then starts each worker (the same binary, told by
// environment variable and inherited file descriptors) with sockets of
// its own on every listener address (SO_REUSEPORT: the kernel spreads
// new connections over the workers' sockets), a session ticket secret
// shared by all, and an admin socket on which the master asks for its
// health, readiness and metrics. The master forwards SIGHUP, drains the
// workers on SIGTERM and starts a worker again when one dies. Linux only.
package workers
