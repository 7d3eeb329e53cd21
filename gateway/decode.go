package gateway

import (
	"bytes"
	"cmp"
	"encoding"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/forgeproof/forgeproof/internal/openfolder"
	"github.com/forgeproof/forgeproof/internal/pemutil"
	"github.com/forgeproof/forgeproof/internal/regfile"
	"go.yaml.in/yaml/v3"
)

// maxConfigBytes bounds the config file: it is small, and a huge one is a
// mistake (or an attack on a reloading process).
const maxConfigBytes = 4 << 20

// LoadConfig reads and validates the YAML config file at path. Relative
// file names in it are relative to the config file's folder. The error,
// when not nil, is a ConfigErrors listing every problem found with its
// file, line and key. LoadConfig reads the files the config names
// (certificates, CAs, CRLs, the key ring) to check them, but does not
// listen on anything. The config file, and each key, CA bundle and CRL
// it names, is refused in a folder that others may write and that is not
// sticky (that folder or one above it, as named or after symbolic
// links): anyone there could replace it.
func LoadConfig(path string) (*Config, error) {
	cfg, err := readConfig(path)
	if err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// readConfig is LoadConfig without the validation, for callers that
// compile the config next anyway (Gateway.ReloadFile). When some keys
// cannot be decoded it validates the rest, so that the error lists every
// problem of the file at once.
func readConfig(path string) (*Config, error) {
	data, err := readLimited(path)
	if err != nil {
		return nil, ConfigErrors{{File: path, Msg: err.Error()}}
	}
	cfg, errs := parseConfig(path, data)
	if cfg != nil {
		cfg.resolvePaths(filepath.Dir(path))
	}
	// Whoever may replace the config may point every file it names
	// elsewhere, or turn the checks off: its folder is checked as theirs
	// are (compiler.closedFolder).
	if err := openfolder.Check(path); err != nil {
		errs = append(ConfigErrors{{File: path, Msg: err.Error()}}, errs...)
	}
	if len(errs) == 0 {
		return cfg, nil
	}
	if cfg != nil {
		errs = withValidation(errs, cfg.Validate())
	}
	return nil, errs
}

// withValidation adds to the decoding errors errs the validation errors of
// err, except those about a key that could not be decoded (its zero value
// is not what the file says), in file order.
func withValidation(errs ConfigErrors, err error) ConfigErrors {
	var verrs ConfigErrors
	if !errors.As(err, &verrs) {
		return errs
	}
	// A set of the keys in error, looked up for each key and each of its
	// parents ("routes[3].csrf" for "routes[3].csrf.trusted-origins[0]"):
	// comparing every validation error with every decoding error took
	// minutes for a file of many routes.
	decoded := map[string]bool{}
	for _, e := range errs {
		decoded[e.Key] = true
	}
	under := func(key string) bool {
		if decoded[key] {
			return true
		}
		for i := range len(key) {
			if (key[i] == '.' || key[i] == '[') && decoded[key[:i]] {
				return true
			}
		}
		return false
	}
	out := slices.Clone(errs)
	for _, v := range verrs {
		if !under(v.Key) {
			out = append(out, v)
		}
	}
	sortErrors(out)
	return out
}

func readLimited(path string) ([]byte, error) {
	// regfile: a named pipe or a device (/dev/zero) must not hang the
	// command or a reload.
	data, err := regfile.ReadFile(path, maxConfigBytes)
	if err != nil {
		return nil, pemutil.PathErr(err) // the path is already in the error's File
	}
	return data, nil
}

// ParseConfig decodes a YAML config without validating it (see
// Config.Validate). name is used in error messages; file names in the
// config are kept as written (LoadConfig makes them relative to the
// file's folder). Unknown keys, wrong types, duplicate keys, aliases,
// explicit tags other than !!str and malformed durations are errors.
func ParseConfig(name string, data []byte) (*Config, error) {
	cfg, errs := parseConfig(name, data)
	if len(errs) > 0 {
		return nil, errs
	}
	return cfg, nil
}

// parseConfig is ParseConfig that also returns what it could decode when
// the only errors are values their keys' types refused; the Config is nil
// after any other error.
func parseConfig(name string, data []byte) (*Config, ConfigErrors) {
	cfg, errs := decodeConfig(name, data)
	// go-yaml puts what it finds at the end of a file without a final
	// newline ("---", "log:") on the line after it: the file's last line
	// is where it is.
	last := bytes.Count(data, []byte("\n")) + 1
	for _, e := range errs {
		e.Line = min(e.Line, last)
	}
	return cfg, errs
}

func decodeConfig(name string, data []byte) (*Config, ConfigErrors) {
	d := &decoder{lines: map[string]int{}}
	cfg := &Config{file: name, lines: d.lines}

	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, ConfigErrors{{File: name, Line: 1, Msg: "empty config"}}
		}
		e := yamlError(name, err, data)
		// UTF-16 with a byte-order mark is read as such; without one,
		// go-yaml says only "control characters are not allowed".
		if bytes.IndexByte(data, 0) >= 0 {
			e.Msg += ": the file has NUL bytes (UTF-16 without a byte-order mark, or not text); save it as UTF-8"
		}
		return nil, ConfigErrors{e}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, ConfigErrors{{File: name, Line: extra.Line, Msg: "more than one YAML document"}}
	} else if !errors.Is(err, io.EOF) {
		return nil, ConfigErrors{yamlError(name, err, data)}
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return nil, ConfigErrors{{File: name, Line: root.Line, Msg: "empty config"}}
	}
	if root.Kind != yaml.MappingNode {
		d.kind(root, "", yaml.MappingNode, "a mapping")
		cfg = nil
	} else {
		d.mapping(root, "", reflect.ValueOf(cfg).Elem())
	}
	for _, e := range d.errs {
		e.File = name
	}
	if d.malformed {
		cfg = nil
	}
	return cfg, d.errs
}

// resolvePaths makes the relative file names of c relative to dir.
func (c *Config) resolvePaths(dir string) {
	abs := func(p *string) {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
	all := func(ps []string) {
		for i := range ps {
			abs(&ps[i])
		}
	}
	for i := range c.Listeners {
		t := &c.Listeners[i].TLS
		abs(&t.CertFile)
		abs(&t.KeyFile)
		for j := range t.Certificates {
			abs(&t.Certificates[j].CertFile)
			abs(&t.Certificates[j].KeyFile)
		}
		all(t.ClientCAFiles)
		for _, b := range t.TrustDomainCAs {
			all(b.CAFiles)
		}
		all(t.CRLFiles)
	}
	abs(&c.Tokens.KeyFile)
	if a := c.Authz; a != nil {
		if a.TLS != nil {
			abs(&a.TLS.CertFile)
			abs(&a.TLS.KeyFile)
			all(a.TLS.ClientCAFiles)
		}
		all(a.ClientCertificates.CAFiles)
		for _, b := range a.ClientCertificates.TrustDomainCAs {
			all(b.CAFiles)
		}
		all(a.ClientCertificates.CRLFiles)
	}
	for i := range c.Routes {
		r := &c.Routes[i]
		abs(&r.UpstreamCAFile)
		abs(&r.UpstreamCertFile)
		abs(&r.UpstreamKeyFile)
	}
}

// yamlError turns a YAML syntax error ("yaml: line 3: mapping values are
// not allowed in this context") into a ConfigError with its line.
// When the line holds a tab, the usual cause of go-yaml's cryptic "found
// character that cannot start any token", the message says so.
func yamlError(file string, err error, data []byte) *ConfigError {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	// go-yaml leaves the line out of errors on the first line.
	e := &ConfigError{File: file, Line: 1, Msg: msg}
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if num, after, ok := strings.Cut(rest, ": "); ok {
			if n, err := strconv.Atoi(num); err == nil {
				e.Line, e.Msg = n, after
			}
		}
	}
	if lines := bytes.Split(data, []byte("\n")); e.Line >= 1 && e.Line <= len(lines) && strings.Contains(e.Msg, "cannot start any token") {
		if col := bytes.IndexByte(lines[e.Line-1], '\t'); col >= 0 {
			e.Msg += fmt.Sprintf(": a tab at column %d; YAML indents with spaces only", col+1)
		}
	}
	return e
}

// decoder walks the YAML node tree into a Config by the `key` tags of its
// fields (fieldsOf), records the line of every key it decodes (for
// validation errors later) and collects every error.
type decoder struct {
	lines map[string]int
	errs  ConfigErrors
	// malformed is set by every error but a value that its type refused
	// (valueErrorf): the file's structure is then not what the Config
	// says, and validating the rest would report problems that are not.
	malformed bool
}

func (d *decoder) errorf(n *yaml.Node, key, format string, a ...any) {
	d.malformed = true
	d.valueErrorf(n, key, format, a...)
}

// valueErrorf reports a value its key's type refused (an unknown mode):
// the key keeps its zero value and the rest of the config is sound.
func (d *decoder) valueErrorf(n *yaml.Node, key, format string, a ...any) {
	d.errs = append(d.errs, &ConfigError{Line: n.Line, Key: key, Msg: fmt.Sprintf(format, a...)})
}

// keyDecoder is a config struct that decodes one of its keys itself: ok
// is false for the keys it leaves to the decoder.
type keyDecoder interface {
	decodeKey(key string, n *yaml.Node) (ok bool, err error)
}

// decodedHook is a config struct that completes itself after its mapping
// was decoded.
type decodedHook interface {
	decoded()
}

var (
	durationType        = reflect.TypeFor[time.Duration]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// value decodes n into v (addressable), for the key path.
func (d *decoder) value(n *yaml.Node, path string, v reflect.Value) {
	t := v.Type()
	switch {
	case t == durationType:
		d.duration(n, path, v)
		return
	case reflect.PointerTo(t).Implements(textUnmarshalerType):
		s, ok := d.scalar(n, path)
		if !ok || n.Tag == "!!null" {
			return
		}
		if err := v.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(s)); err != nil {
			d.valueErrorf(n, path, "%s", withoutPackage(err))
		}
		return
	}
	switch t.Kind() {
	case reflect.String:
		if s, ok := d.scalar(n, path); ok && n.Tag != "!!null" {
			v.SetString(s)
		}
	case reflect.Bool:
		s, ok := d.scalar(n, path)
		if !ok || d.empty(n, path, "true or false") {
			return
		}
		switch s {
		case "true":
			v.SetBool(true)
		case "false":
			v.SetBool(false)
		default:
			d.errorf(n, path, "must be true or false, not %q", s)
		}
	case reflect.Int, reflect.Int64:
		s, ok := d.scalar(n, path)
		if !ok || d.empty(n, path, "a number") {
			return
		}
		// YAML 1.1 (and so many tools, and readers used to file modes)
		// reads 010 as octal 8, YAML 1.2 as decimal 10: neither is sure
		// to be what the writer meant.
		if digits := strings.TrimLeft(s, "+-"); len(digits) > 1 && digits[0] == '0' && strings.Trim(digits, "0123456789") == "" {
			d.errorf(n, path, "invalid number %q: a leading 0 reads as octal in some YAML readers and decimal in others; write it without the 0 (%q)", s, cmp.Or(strings.TrimLeft(digits, "0"), "0"))
			return
		}
		i, err := strconv.ParseInt(s, 10, 64)
		if errors.Is(err, strconv.ErrRange) && !strings.HasPrefix(s, "-") {
			d.errorf(n, path, "number %s is too large: at most %d", s, maxDecoded(t))
			return
		}
		if err != nil || i < 0 {
			d.errorf(n, path, "invalid number %q: want a non-negative integer", s)
			return
		}
		if v.OverflowInt(i) || t.Kind() == reflect.Int && i > 1<<31-1 {
			d.errorf(n, path, "number %d is too large: at most %d", i, maxDecoded(t))
			return
		}
		v.SetInt(i)
	case reflect.Pointer:
		// Absent or null leaves nil; a mapping of a struct, or a value,
		// sets it.
		if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
			return
		}
		if t.Elem().Kind() == reflect.Struct && !d.kind(n, path, yaml.MappingNode, "a mapping ("+strings.Join(keysOf(t.Elem()), ", ")+")") {
			return
		}
		p := reflect.New(t.Elem())
		before := len(d.errs)
		d.value(n, path, p.Elem())
		if len(d.errs) == before || t.Elem().Kind() == reflect.Struct {
			v.Set(p)
		}
	case reflect.Slice:
		if t.Elem().Kind() == reflect.String {
			d.strings(n, path, v)
			return
		}
		d.list(n, path, "a list", func(c *yaml.Node, p string) {
			v.Set(reflect.Append(v, reflect.New(t.Elem()).Elem()))
			d.value(c, p, v.Index(v.Len()-1))
		})
	case reflect.Struct:
		d.mapping(n, path, v)
	default:
		panic(fmt.Sprintf("gateway: config key %s has type %s, which the decoder does not know", path, t))
	}
}

// fieldsOf maps the keys of the struct type t to its field indexes.
func fieldsOf(t reflect.Type) map[string]int {
	m := map[string]int{}
	for i := range t.NumField() {
		if name, ok := t.Field(i).Tag.Lookup("key"); ok {
			m[name] = i
		}
	}
	return m
}

// keysOf lists the keys of the struct type t, in field order.
func keysOf(t reflect.Type) []string {
	var out []string
	for i := range t.NumField() {
		if name, ok := t.Field(i).Tag.Lookup("key"); ok {
			out = append(out, name)
		}
	}
	return out
}

// mapping decodes a YAML mapping into the struct v: each key must be the
// `key` tag of one of its fields.
func (d *decoder) mapping(n *yaml.Node, path string, v reflect.Value) {
	if !d.kind(n, path, yaml.MappingNode, "a mapping") {
		return
	}
	fields := fieldsOf(v.Type())
	kd, _ := v.Addr().Interface().(keyDecoder)
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		key := k.Value
		full := key
		if path != "" {
			full = path + "." + key
		}
		if k.Kind != yaml.ScalarNode {
			d.errorf(k, path, "keys must be plain strings")
			continue
		}
		if seen[key] {
			d.errorf(k, full, "duplicate key")
			continue
		}
		seen[key] = true
		if k.Tag == "!!merge" {
			d.errorf(k, full, "YAML merge keys are not supported: write the keys out")
			continue
		}
		index, ok := fields[key]
		if !ok {
			d.errorf(k, full, "unknown key%s", suggestKey(key, keysOf(v.Type())))
			continue
		}
		d.lines[full] = k.Line
		if val.Kind == yaml.AliasNode {
			d.errorf(val, full, "YAML aliases are not supported")
			continue
		}
		if d.tagged(val, full) {
			continue
		}
		if kd != nil {
			if ok, err := kd.decodeKey(key, val); ok {
				if err != nil {
					d.valueErrorf(val, full, "%v", err)
				}
				continue
			}
		}
		d.value(val, full, v.Field(index))
	}
	if h, ok := v.Addr().Interface().(decodedHook); ok {
		h.decoded()
	}
}

// suggestKey is the end of an "unknown key" message: the known key it is
// probably a misspelling of, else the keys allowed here.
func suggestKey(key string, known []string) string {
	norm := func(s string) string {
		return strings.NewReplacer("_", "", "-", "", " ", "").Replace(strings.ToLower(s))
	}
	for _, k := range known {
		if norm(k) == norm(key) || editDistance(k, key) <= 2 {
			return fmt.Sprintf(" (did you mean %q?)", k)
		}
	}
	return " (want one of: " + strings.Join(known, ", ") + ")"
}

// editDistance is the Levenshtein distance of a and b (bytes).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// withoutPackage drops the "csrf: " or "mtls: " prefix of a library's
// error: a config error names the key instead.
func withoutPackage(err error) string {
	msg := err.Error()
	for _, p := range []string{"csrf: ", "mtls: ", "forwarded: "} {
		msg = strings.TrimPrefix(msg, p)
	}
	return msg
}

// kind checks n's kind; a YAML null counts as absent and reports false
// without an error for mappings and sequences.
func (d *decoder) kind(n *yaml.Node, path string, want yaml.Kind, what string) bool {
	if n.Kind == want {
		return true
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return false
	}
	if n.Kind == yaml.AliasNode {
		d.errorf(n, path, "YAML aliases are not supported")
		return false
	}
	d.errorf(n, path, "must be %s", what)
	return false
}

func (d *decoder) scalar(n *yaml.Node, path string) (string, bool) {
	if n.Kind == yaml.AliasNode {
		d.errorf(n, path, "YAML aliases are not supported")
		return "", false
	}
	if n.Kind != yaml.ScalarNode {
		d.errorf(n, path, "must be a single value")
		return "", false
	}
	return n.Value, true
}

// empty reports, as an error, a key written with no value ("key:" or
// "key: ~") where a value of type what is needed: absent would mean the
// default, and the writer may have meant another value.
func (d *decoder) empty(n *yaml.Node, path, what string) bool {
	if n.Tag != "!!null" {
		return false
	}
	d.errorf(n, path, "has no value: write %s, or leave the key out for the default", what)
	return true
}

func (d *decoder) duration(n *yaml.Node, path string, v reflect.Value) {
	s, ok := d.scalar(n, path)
	if !ok || d.empty(n, path, "a duration such as \"30s\"") {
		return
	}
	dur, err := time.ParseDuration(s)
	if err != nil || dur < 0 {
		why := "want a non-negative Go duration such as \"30s\" or \"1m30s\""
		switch {
		case err == nil:
			why = "must not be negative"
		case strings.HasPrefix(s, "-") && durationSyntax(s):
			why = "must not be negative"
		case s != "" && strings.Trim(s, "0123456789") == "":
			why = fmt.Sprintf("a duration needs a unit, such as \"%ss\" (seconds) or \"%sms\"", s, s)
		case durationSyntax(s):
			// ParseDuration's error for a well-formed value is overflow.
			why = "too large: at most 2562047h (about 292 years)"
		case strings.HasSuffix(s, "d") || strings.HasSuffix(s, "w"):
			why = "Go durations have no day or week unit: write hours, such as \"24h\" for a day"
		}
		d.errorf(n, path, "invalid duration %q: %s", s, why)
		return
	}
	if why := durationUnits(s); why != "" {
		d.errorf(n, path, "invalid duration %q: %s; write each unit once, largest first, such as \"1h30m\"", s, why)
		return
	}
	if dur == 0 && strings.Trim(s, "+-0.nsuµμmh") != "" {
		// "0.5ns", "0.0000000001s": under a nanosecond, read as 0, which
		// is the default, or for some keys no timeout at all.
		d.errorf(n, path, "invalid duration %q: under 1ns, which would read as 0 (the default, or no limit); write 0 or at least 1ns", s)
		return
	}
	v.SetInt(int64(dur))
}

// maxDecoded is the largest number the decoder takes for a field of type
// t: 2147483647 for an int (as on 32-bit platforms), else the type's own
// largest value.
func maxDecoded(t reflect.Type) int64 {
	if t.Kind() == reflect.Int {
		return 1<<31 - 1
	}
	return 1<<(t.Bits()-1) - 1
}

// durationSyntax reports whether s is made of what time.ParseDuration
// reads (an optional sign, then numbers each with a unit), whatever their
// size: its error for such a value is an overflow.
func durationSyntax(s string) bool {
	if s != "" && (s[0] == '-' || s[0] == '+') {
		s = s[1:] // one sign, as ParseDuration reads
	}
	if s == "" {
		return false
	}
	for s != "" {
		i := strings.IndexFunc(s, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
		if i <= 0 || s[:i] == "." || strings.Count(s[:i], ".") > 1 {
			return false // no number ("s", ".s", "1..5s"), or no unit
		}
		s = s[i:]
		j := strings.IndexFunc(s, func(r rune) bool { return r >= '0' && r <= '9' || r == '.' })
		if j < 0 {
			j = len(s)
		}
		switch s[:j] {
		case "ns", "us", "µs", "μs", "ms", "s", "m", "h":
		default:
			return false
		}
		s = s[j:]
	}
	return true
}

// durationUnitRank orders the units of time.ParseDuration, largest first.
var durationUnitRank = map[string]int{"h": 0, "m": 1, "s": 2, "ms": 3, "us": 4, "µs": 4, "μs": 4, "ns": 5}

// durationUnits says what is wrong with the units of s, a duration that
// time.ParseDuration accepts, or "" when nothing is: ParseDuration adds
// up its parts, so "1h1h" is 2h and "30s10m" is 10m30s, which a reader
// of the file (or a typo) may not have meant.
func durationUnits(s string) string {
	s = strings.TrimLeft(s, "+-")
	last, lastUnit := -1, ""
	for s != "" {
		i := strings.IndexFunc(s, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
		if i < 0 {
			return "" // "0" alone
		}
		s = s[i:]
		j := strings.IndexFunc(s, func(r rune) bool { return (r >= '0' && r <= '9') || r == '.' })
		if j < 0 {
			j = len(s)
		}
		unit := s[:j]
		s = s[j:]
		rank, ok := durationUnitRank[unit]
		if !ok {
			return "" // ParseDuration accepted it: not reached
		}
		switch {
		case rank == last:
			return fmt.Sprintf("the unit %q appears twice and the parts are added up", unit)
		case rank < last:
			return fmt.Sprintf("%q comes after the smaller unit %q and the parts are added up", unit, lastUnit)
		}
		last, lastUnit = rank, unit
	}
	return ""
}

// strings decodes a sequence of strings; a single string is accepted as a
// one-element list.
func (d *decoder) strings(n *yaml.Node, path string, v reflect.Value) {
	if n.Kind == yaml.ScalarNode && n.Tag != "!!null" {
		// "a, b" may be meant as a list of two (as a flag of many tools
		// reads it) or be one name with a comma ("Acme, Inc."): the
		// list form says which.
		if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) == 0 && strings.Contains(n.Value, ",") {
			d.errorf(n, path, "%q is one value with a comma: for a list write [%s]; for one entry with a comma write [%q]", n.Value, n.Value, n.Value)
			return
		}
		v.Set(reflect.ValueOf([]string{n.Value}))
		return
	}
	d.list(n, path, "a list of strings", func(item *yaml.Node, p string) {
		// An item with no value ("- ", "~", "null") is no entry: read
		// as its text it would be the name "~" or "null".
		if item.Kind == yaml.ScalarNode && item.Tag == "!!null" {
			if item.Value == "" {
				d.errorf(item, p, "has no value: write the entry or remove the item")
			} else {
				d.errorf(item, p, "has no value: YAML reads %s as null; write the entry (quoted, \"%s\", if that is the name) or remove the item", item.Value, item.Value)
			}
			return
		}
		if s, ok := d.scalar(item, p); ok {
			v.Set(reflect.Append(v, reflect.ValueOf(s)))
		}
	})
}

// list decodes the sequence n (what names it in the error when n is
// something else) with item, called with each item and its key path
// after the item's line is recorded.
func (d *decoder) list(n *yaml.Node, path, what string, item func(n *yaml.Node, path string)) {
	if !d.kind(n, path, yaml.SequenceNode, what) {
		return
	}
	for i, c := range n.Content {
		p := fmt.Sprintf("%s[%d]", path, i)
		d.lines[p] = c.Line
		if d.tagged(c, p) {
			continue
		}
		item(c, p)
	}
}

// tagged reports an explicit YAML tag on n other than !!str (which says
// what every value is read as anyway: its text). The decoder reads
// values by their text, not their tag: "browsers: !!null false" would
// otherwise be read as absent (browsers allowed), "!!binary" values as
// their base64 text, and a custom "!tag" would be ignored.
func (d *decoder) tagged(n *yaml.Node, path string) bool {
	if n.Style&yaml.TaggedStyle == 0 || n.Tag == "!!str" {
		return false
	}
	d.errorf(n, path, "explicit YAML tag %s is not supported: write the value without it", n.Tag)
	return true
}

// decodeKey decodes csrf.mode, whose YAML values are csrf's modes and
// insecure-off.
func (c *RouteCSRF) decodeKey(key string, n *yaml.Node) (bool, error) {
	if key != "mode" || n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		return false, nil
	}
	switch n.Value {
	case csrfInsecureOff:
		c.InsecureOff = true
		return true, nil
	case "off", "none", "disabled", "false":
		return true, fmt.Errorf("%q is not a mode: to turn CSRF protection off, write %q", n.Value, csrfInsecureOff)
	}
	if err := c.Mode.UnmarshalText([]byte(n.Value)); err != nil {
		return true, fmt.Errorf("unknown mode %q: want origin-only, origin-and-token, token-if-no-browser-headers or %s", n.Value, csrfInsecureOff)
	}
	return true, nil
}

// csrfInsecureOff is the csrf.mode that sets RouteCSRF.InsecureOff.
const csrfInsecureOff = "insecure-off"

// decoded makes a cookies mapping without same-site add SameSite=Lax.
func (c *Cookies) decoded() {
	if c.SameSite == 0 {
		c.SameSite = SameSiteLax
	}
}
