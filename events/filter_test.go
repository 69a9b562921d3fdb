package events

import (
	"strings"
	"testing"
	"time"
)

func TestFilters(t *testing.T) {
	now := time.Now()
	ctr := func(action, id, name, image string, labels map[string]string) Message {
		a := map[string]string{"name": name, "image": image}
		for k, v := range labels {
			a[k] = v
		}
		return New(TypeContainer, action, id, a, now)
	}
	evs := map[string]Message{
		"web-start": ctr(Start, "aaa111", "web", "localhost/demo:latest", map[string]string{"tier": "front", "env": "prod"}),
		"web-die":   ctr(Die, "aaa111", "web", "localhost/demo:latest", map[string]string{"tier": "front", "env": "prod"}),
		"db-start":  ctr(Start, "bbb222", "db", "docker.io/library/postgres:16", map[string]string{"tier": "back"}),
		"db-exec":   ctr(ExecStart+": psql -c select", "bbb222", "db", "docker.io/library/postgres:16", nil),
		"img-tag":   New(TypeImage, Tag, "sha256:"+strings.Repeat("c", 64), map[string]string{"name": "localhost/demo:v2"}, now),
		"img-pull":  New(TypeImage, Pull, "docker.io/library/postgres:16", map[string]string{"name": "docker.io/library/postgres:16"}, now),
		"vol-new":   New(TypeVolume, Create, "data", map[string]string{"driver": "local"}, now),
		"vol-gone":  New(TypeVolume, Destroy, "database", map[string]string{"driver": "local"}, now),
	}
	order := []string{"web-start", "web-die", "db-start", "db-exec", "img-tag", "img-pull", "vol-new", "vol-gone"}
	for _, c := range []struct {
		filters []string
		want    string
	}{
		{nil, "web-start web-die db-start db-exec img-tag img-pull vol-new vol-gone"},
		{[]string{"type=container"}, "web-start web-die db-start db-exec"},
		{[]string{"type=volume", "type=image"}, "img-tag img-pull vol-new vol-gone"}, // ORed within a key
		{[]string{"event=start"}, "web-start db-start"},
		{[]string{"event=start", "event=die"}, "web-start web-die db-start"},
		{[]string{"event=exec_start"}, "db-exec"}, // the command after the colon
		{[]string{"event=died"}, "web-die"},       // Podman's name
		{[]string{"event=remove"}, "vol-gone"},
		{[]string{"container=web"}, "web-start web-die"},
		{[]string{"container=bbb"}, "db-start db-exec"}, // an ID prefix
		{[]string{"container=web", "event=die"}, "web-die"},
		{[]string{"container=web", "container=db", "event=start"}, "web-start db-start"},
		{[]string{"image=demo"}, "web-start web-die img-tag"}, // a short name, any tag
		{[]string{"image=localhost/demo:v2"}, "img-tag"},
		{[]string{"image=demo:v2"}, "img-tag"},
		{[]string{"image=postgres"}, "db-start db-exec img-pull"},
		{[]string{"image=postgres:15"}, ""},
		{[]string{"image=" + strings.Repeat("c", 64)}, "img-tag"},
		{[]string{"image=sha256:" + strings.Repeat("c", 64)}, "img-tag"},
		{[]string{"image=" + strings.Repeat("c", 12)}, "img-tag"},
		{[]string{"volume=data"}, "vol-new vol-gone"}, // a prefix of database too, as Docker
		{[]string{"volume=database"}, "vol-gone"},
		{[]string{"volume=data", "event=create"}, "vol-new"},
		{[]string{"label=tier"}, "web-start web-die db-start"},
		{[]string{"label=tier=front"}, "web-start web-die"},
		{[]string{"label=tier=front", "label=env=prod"}, "web-start web-die"}, // labels ANDed, as Docker
		{[]string{"label=tier=back", "label=env=prod"}, ""},
	} {
		f, err := ParseFilters(c.filters)
		if err != nil {
			t.Fatalf("%v: %v", c.filters, err)
		}
		var got []string
		for _, k := range order {
			m := evs[k]
			if f.Match(&m) {
				got = append(got, k)
			}
		}
		if strings.Join(got, " ") != c.want {
			t.Errorf("--filter %v: got %q, want %q", c.filters, strings.Join(got, " "), c.want)
		}
	}
}

func TestFilterErrors(t *testing.T) {
	for _, bad := range []string{"status=running", "container", "=x", "event="} {
		if _, err := ParseFilters([]string{bad}); err == nil {
			t.Errorf("--filter %q accepted", bad)
		} else if !strings.Contains(err.Error(), "container, event, image, label, type, volume") {
			t.Errorf("--filter %q: the error does not list the keys: %v", bad, err)
		}
	}
}
