package events

import (
	"fmt"
	"strings"
)

// Filter is `events --filter`, as Docker applies it: the keys are ANDed, the values of
// one key ORed (label values are ANDed, as Docker's are).
type Filter map[string][]string

// FilterKeys are the keys --filter takes.
var FilterKeys = []string{"container", "event", "image", "label", "type", "volume"}

// ParseFilters reads KEY=VALUE filters.
func ParseFilters(args []string) (Filter, error) {
	f := Filter{}
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		k = strings.ToLower(strings.TrimSpace(k))
		if !ok || k == "" || v == "" {
			return nil, fmt.Errorf("--filter %q: expected KEY=VALUE, with KEY one of %s", a, strings.Join(FilterKeys, ", "))
		}
		known := false
		for _, fk := range FilterKeys {
			known = known || fk == k
		}
		if !known {
			return nil, fmt.Errorf("--filter %q: unknown key %q; use one of %s", a, k, strings.Join(FilterKeys, ", "))
		}
		if k == "event" {
			v = podmanAction(v)
		}
		f[k] = append(f[k], v)
	}
	return f, nil
}

// podmanAction maps Podman's event names to Docker's.
func podmanAction(v string) string {
	switch v {
	case "died":
		return Die
	case "remove":
		return Destroy
	}
	return v
}

// Match tells whether m passes every filter.
func (f Filter) Match(m *Message) bool {
	return f.matchEvent(m) && f.any("type", func(v string) bool { return v == m.Type }) &&
		f.matchName(TypeContainer, m) && f.matchName(TypeVolume, m) && f.matchImage(m) && f.matchLabels(m)
}

// any is true when key is not filtered on, or when one of its values matches.
func (f Filter) any(key string, match func(string) bool) bool {
	vs, ok := f[key]
	if !ok {
		return true
	}
	for _, v := range vs {
		if match(v) {
			return true
		}
	}
	return false
}

// matchEvent compares the action; exec_create, exec_start and health_status match the
// actions that carry a command or a status after a colon (exec_start: ls /), as in
// Docker.
func (f Filter) matchEvent(m *Message) bool {
	return f.any("event", func(v string) bool {
		if v == m.Action {
			return true
		}
		switch v {
		case ExecCreate, ExecStart, HealthStatus:
			return strings.HasPrefix(m.Action, v+":")
		}
		return false
	})
}

// matchName: container= and volume= are a name or ID, or the start of one (Docker's
// fuzzy match); they match only events of their own type.
func (f Filter) matchName(typ string, m *Message) bool {
	return f.any(typ, func(v string) bool {
		if m.Type != typ {
			return false
		}
		return strings.HasPrefix(m.Actor.ID, v) || strings.HasPrefix(m.Actor.Attributes["name"], v)
	})
}

// matchImage: image= is an image's ID or name; it matches the image's own events and the
// events of containers made from it. A short name matches as `hutch images` does
// (demo = localhost/demo:latest, docker.io/library/demo:latest), and a name without a
// tag matches every tag.
func (f Filter) matchImage(m *Message) bool {
	return f.any("image", func(v string) bool {
		id, name := m.Actor.ID, m.Actor.Attributes["image"]
		if m.Type == TypeImage {
			name = m.Actor.Attributes["name"]
		} else {
			id = ""
		}
		if id != "" && (v == id || "sha256:"+v == id || len(v) >= 12 && strings.HasPrefix(id, "sha256:"+v)) {
			return true
		}
		return nameMatches(v, name) || nameMatches(v, id)
	})
}

// nameMatches compares a user's image reference with an image name.
func nameMatches(ref, name string) bool {
	if name == "" {
		return false
	}
	if ref == name {
		return true
	}
	repo, tag := splitTag(name)
	rrepo, rtag := splitTag(ref)
	if rtag != "" && rtag != tag {
		return false
	}
	return rrepo == repo || strings.HasSuffix(repo, "/"+rrepo)
}

// splitTag cuts "repo:tag" (a port in the registry is not a tag); a digest goes with it.
func splitTag(name string) (string, string) {
	name, _, _ = strings.Cut(name, "@")
	i := strings.LastIndexByte(name, ':')
	if i < 0 || strings.Contains(name[i:], "/") {
		return name, ""
	}
	return name[:i], name[i+1:]
}

// matchLabels: every label=KEY or label=KEY=VALUE must be among the attributes (which
// hold a container's labels).
func (f Filter) matchLabels(m *Message) bool {
	for _, v := range f["label"] {
		k, want, hasValue := strings.Cut(v, "=")
		got, ok := m.Actor.Attributes[k]
		if !ok || hasValue && got != want {
			return false
		}
	}
	return true
}
