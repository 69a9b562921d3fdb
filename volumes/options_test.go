package volumes

import (
	"strings"
	"testing"
)

func TestCheckOptions(t *testing.T) {
	for _, c := range []struct {
		opts map[string]string
		kind string // "" with err: refused
		err  string
	}{
		{nil, KindDirectory, ""},
		{map[string]string{"type": "tmpfs", "device": "tmpfs", "o": "size=64m,mode=1777,uid=1000,gid=1000,nr_inodes=1k,nosuid"}, KindTmpfs, ""},
		{map[string]string{"type": "tmpfs"}, KindTmpfs, ""},
		{map[string]string{"type": "tmpfs", "o": "size=10%"}, KindTmpfs, ""},
		{map[string]string{"type": "none", "o": "bind", "device": "/srv/data"}, KindBind, ""},
		{map[string]string{"type": "bind", "o": "rbind", "device": "/srv/data"}, KindBind, ""},
		{map[string]string{"type": "tmpfs", "o": "size=big"}, "", "size=big"},
		{map[string]string{"type": "tmpfs", "o": "size=1mm"}, "", "size=1mm"},
		{map[string]string{"type": "tmpfs", "o": "mode=999"}, "", "octal"},
		{map[string]string{"type": "tmpfs", "o": "noexec"}, "", "not a tmpfs option"},
		{map[string]string{"type": "none", "device": "/srv"}, "", "o=bind"},
		{map[string]string{"type": "none", "o": "bind", "device": "srv"}, "", "absolute path"},
		{map[string]string{"type": "none", "o": "bind,ro", "device": "/srv"}, "", "o=bind (or rbind) alone"},
		{map[string]string{"type": "nfs", "o": "addr=10.0.0.1", "device": ":/x"}, "", "needs root on the host"},
		{map[string]string{"o": "size=1m"}, "", "without type="},
		{map[string]string{"size": "1m"}, "", "type, device and o"},
	} {
		k, err := kindOf(c.opts)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%v: err %v, want one saying %q", c.opts, err, c.err)
			}
			continue
		}
		if err != nil || k != c.kind {
			t.Errorf("%v: kind %q, %v; want %q", c.opts, k, err, c.kind)
		}
	}
}

func TestVolumeSourceAndTmpfs(t *testing.T) {
	v := &Volume{Name: "b", Mountpoint: "/v/b/_data", Options: map[string]string{"type": "none", "o": "bind", "device": "/srv/x/"}}
	if v.Source() != "/srv/x" {
		t.Errorf("bind volume's source %q", v.Source())
	}
	v = &Volume{Name: "t", Mountpoint: "/v/t/_data", Options: map[string]string{"type": "tmpfs", "o": "size=1m,nodev,uid=5"}}
	o, err := v.TmpfsOptions()
	if err != nil || strings.Join(o, ",") != "size=1m,uid=5" || v.Source() != "/v/t/_data" {
		t.Errorf("tmpfs options %q, %v; source %q", o, err, v.Source())
	}
	v.Options["o"] = "size=1m,remount"
	if _, err := v.TmpfsOptions(); err == nil {
		t.Error("a record with an option hutch does not pass on was accepted")
	}
}
