// Package shellquote quotes strings as single words for a POSIX shell, so
// that commands printed for people to copy (curl reproductions, the
// demo's examples) run as shown.
//
// Quote leaves plain words alone, single-quotes the rest and, for strings
// with control characters (the CRLF of a multipart body, say, or a C1
// escape a service put in a form), bytes that are not UTF-8 or
// bidirectional formatting characters (U+202E in a form action), uses
// ANSI-C quoting ($'…', understood by bash, zsh and ksh, but not by
// dash 0.5.12, Debian's /bin/sh) so that the command stays on one line.
package shellquote
