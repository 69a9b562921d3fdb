package images

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode"
)

// ApplyChange applies one `--change` instruction, written as in a Dockerfile
// ("CMD [\"sh\"]", "ENV A=b C=d") or with an equals sign after the keyword
// ("CMD=/bin/sh", "WORKDIR=/srv"), to c.
func ApplyChange(c *ContainerConfig, change string) error {
	change = strings.TrimSpace(change)
	i := strings.IndexFunc(change, func(r rune) bool { return r == '=' || unicode.IsSpace(r) })
	if i <= 0 {
		return fmt.Errorf("--change %q: expected INSTRUCTION VALUE, e.g. --change 'CMD [\"/bin/sh\"]'", change)
	}
	kw, val := strings.ToUpper(change[:i]), strings.TrimSpace(change[i+1:])
	bad := func(why string) error { return fmt.Errorf("--change %q: %s", change, why) }
	switch kw {
	case "CMD", "ENTRYPOINT":
		argv, err := commandForm(val)
		if err != nil {
			return bad(err.Error())
		}
		if kw == "CMD" {
			c.Cmd = argv
		} else {
			c.Entrypoint = argv
		}
	case "ENV":
		pairs, err := keyValues(val)
		if err != nil {
			return bad(err.Error())
		}
		for _, kv := range pairs {
			c.Env = setEnv(c.Env, kv[0], kv[1])
		}
	case "LABEL":
		pairs, err := keyValues(val)
		if err != nil {
			return bad(err.Error())
		}
		if c.Labels == nil {
			c.Labels = map[string]string{}
		}
		for _, kv := range pairs {
			c.Labels[kv[0]] = kv[1]
		}
	case "WORKDIR":
		if !strings.HasPrefix(val, "/") {
			return bad("WORKDIR must be an absolute path")
		}
		c.WorkingDir = val
	case "USER":
		if val == "" {
			return bad("USER needs a user name or uid")
		}
		c.User = val
	case "EXPOSE":
		if c.ExposedPorts == nil {
			c.ExposedPorts = map[string]struct{}{}
		}
		for _, p := range strings.Fields(val) {
			if !strings.Contains(p, "/") {
				p += "/tcp"
			}
			c.ExposedPorts[p] = struct{}{}
		}
	case "VOLUME":
		vols := strings.Fields(val)
		if strings.HasPrefix(val, "[") {
			if err := json.Unmarshal([]byte(val), &vols); err != nil {
				return bad("not a JSON array of strings: " + err.Error())
			}
		}
		if c.Volumes == nil {
			c.Volumes = map[string]struct{}{}
		}
		for _, v := range vols {
			c.Volumes[v] = struct{}{}
		}
	case "STOPSIGNAL":
		c.StopSignal = val
	default:
		return bad("hutch import accepts CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, STOPSIGNAL, USER, VOLUME and WORKDIR")
	}
	return nil
}

// commandForm reads the exec form (a JSON array) or the shell form (run by /bin/sh -c).
func commandForm(val string) ([]string, error) {
	if strings.HasPrefix(val, "[") {
		var argv []string
		if err := json.Unmarshal([]byte(val), &argv); err != nil {
			return nil, fmt.Errorf("not a JSON array of strings: %w", err)
		}
		return argv, nil
	}
	if val == "" {
		return nil, fmt.Errorf("empty command")
	}
	return []string{"/bin/sh", "-c", val}, nil
}

// keyValues reads "A=b C=\"d e\"" or the legacy single "A b".
func keyValues(val string) ([][2]string, error) {
	if !strings.Contains(val, "=") {
		k, v, ok := strings.Cut(val, " ")
		if !ok || k == "" {
			return nil, fmt.Errorf("expected KEY=VALUE")
		}
		return [][2]string{{k, strings.TrimSpace(v)}}, nil
	}
	var out [][2]string
	for _, w := range shellWords(val) {
		k, v, ok := strings.Cut(w, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("expected KEY=VALUE, got %q", w)
		}
		out = append(out, [2]string{k, v})
	}
	return out, nil
}

// shellWords splits on spaces outside double or single quotes and drops the quotes.
func shellWords(s string) []string {
	var words []string
	var b strings.Builder
	var quote rune
	inWord := false
	for _, r := range s {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote == 0 && (r == '"' || r == '\''):
			quote, inWord = r, true
		case quote == 0 && unicode.IsSpace(r):
			if inWord {
				words = append(words, b.String())
				b.Reset()
				inWord = false
			}
		default:
			b.WriteRune(r)
			inWord = true
		}
	}
	if inWord {
		words = append(words, b.String())
	}
	return words
}

func setEnv(env []string, k, v string) []string {
	for i, e := range env {
		if strings.HasPrefix(e, k+"=") {
			env[i] = k + "=" + v
			return env
		}
	}
	return append(env, k+"="+v)
}
