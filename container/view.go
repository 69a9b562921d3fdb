package container

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	units "github.com/docker/go-units"

	"hutch.dev/hutch/images"
	"hutch.dev/hutch/network"
	"hutch.dev/hutch/nsinit"
	"hutch.dev/hutch/security"
)

// Summary is one container as `hutch ps` sees it.
type Summary struct {
	Config *Config
	State  *State
	// Health is the container's health while it runs with a healthcheck, else nil.
	Health *Health
}

// StatusText is Docker's STATUS column: "Up 3 seconds", "Exited (0) 2 minutes ago", "Created".
func (s Summary) StatusText(now time.Time) string {
	switch s.State.Status {
	case StatusRunning:
		if Paused(s.State) {
			return "Up " + units.HumanDuration(now.Sub(s.State.StartedAt)) + " (Paused)"
		}
		return "Up " + units.HumanDuration(now.Sub(s.State.StartedAt)) + healthSuffix(s.Health)
	case StatusExited:
		return fmt.Sprintf("Exited (%d) %s ago", s.State.ExitCode, units.HumanDuration(now.Sub(s.State.FinishedAt)))
	default:
		return "Created"
	}
}

// List returns every container with its current state, newest first.
func (r *Records) Summaries() ([]Summary, error) {
	cs, err := r.List()
	if err != nil {
		return nil, err
	}
	out := make([]Summary, 0, len(cs))
	for _, c := range cs {
		st, err := r.Current(c.ID)
		if err != nil {
			st = &State{Status: StatusExited, Error: err.Error()}
		}
		sum := Summary{Config: c, State: st}
		if st.Status == StatusRunning {
			sum.Health = r.Health(c, st)
		}
		out = append(out, sum)
	}
	return out, nil
}

// LogOptions select what `hutch logs` shows.
type LogOptions struct {
	Follow     bool
	Tail       int // <0: all
	Timestamps bool
	Since      time.Time
	Until      time.Time
	// Details puts the log's attributes (--log-opt labels=, env=, tag=) before each
	// line, as Docker's --details.
	Details bool
	// Prefix goes before each line (`logs` of several containers: the name or ID).
	Prefix string
	// following, when set, is called once the log so far has been read, before
	// following it (attach forwards its input only then, not to miss the answer).
	following func()
}

// ErrNoLog is `hutch logs` of a container created with --log-driver none.
var ErrNoLog = errors.New("no log is kept")

// Logs writes the container's log to stdout and stderr (each line to the stream it came
// from), its rotated files first, following it while the container runs with Follow.
func (r *Records) Logs(c *Config, o LogOptions, stdout, stderr io.Writer) error {
	if c.LogDriver() == LogNone {
		return fmt.Errorf("container %s: %w: it was created with --log-driver none (its output went to the terminal only); create it again with --log-driver json-file or k8s-file to keep one", c.Name, ErrNoLog)
	}
	path := r.LogPath(c.ID)
	details := ""
	if o.Details {
		details = c.LogDetails() + " "
	}
	emit := func(e LogEntry) {
		if !o.Since.IsZero() && e.Time.Before(o.Since) || !o.Until.IsZero() && e.Time.After(o.Until) {
			return
		}
		w := stdout
		if e.Stream == "stderr" {
			w = stderr
		}
		line := o.Prefix
		if o.Timestamps {
			line += e.Time.Format(time.RFC3339Nano) + " "
		}
		_, _ = io.WriteString(w, line+details+e.Line)
	}
	var tail []LogEntry
	keep := func(e LogEntry) {
		tail = append(tail, e)
		if o.Tail >= 0 && len(tail) > o.Tail {
			tail = tail[1:]
		}
	}
	_, files := c.logLimits()
	lc := &logCursor{path: path, files: files, alive: func() bool {
		st, err := r.Current(c.ID)
		return err == nil && st.Status == StatusRunning
	}}
	defer lc.Close()
	for {
		ok, err := lc.openOldest()
		if err != nil {
			return err
		}
		if ok {
			break
		}
		// Not begun yet: wait for the log while the container runs.
		if !o.Follow || !lc.alive() {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The log so far, its rotated files first, then (with Follow) what comes.
	use, following := keep, false
	for {
		running := o.Follow && following && lc.alive()
		lc.read(use)
		if logTestHook != nil {
			logTestHook("eof")
		}
		if lc.advance(use) == logMoved {
			continue
		}
		if !following {
			for _, e := range tail {
				emit(e)
			}
			if !o.Follow {
				return nil
			}
			if o.following != nil {
				o.following()
			}
			use, following = emit, true
			continue
		}
		if !running {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// readLog hands each complete entry read from f to use; a line still being written is
// left to be read again next time.
func readLog(rd *bufio.Reader, f *os.File, use func(LogEntry)) {
	for {
		line, err := rd.ReadBytes('\n')
		if len(line) == 0 || err != nil && line[len(line)-1] != '\n' {
			if len(line) > 0 {
				if _, err := f.Seek(-int64(len(line)), io.SeekCurrent); err == nil {
					rd.Reset(f)
				}
			}
			return
		}
		if e, ok := parseLogLine(line); ok {
			use(e)
		}
	}
}

// ParseTime reads --since/--until: RFC 3339, a Unix time, or a duration back from now (10m).
func ParseTime(v string, now time.Time) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(v); err == nil {
		return now.Add(-d), nil
	}
	if n, err := strconv.ParseFloat(v, 64); err == nil {
		return time.Unix(0, int64(n*1e9)), nil
	}
	for _, layout := range []string{time.RFC3339Nano, time.RFC3339, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, v, time.Local); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a time: use RFC 3339 (2026-11-27T10:00:00Z), a Unix time, or a duration like 10m", v)
}

// Inspect is `hutch inspect CONTAINER`, in the shape Docker gives.
type Inspect struct {
	Id         string         `json:"Id"` // Docker's name, for --format '{{.Id}}'
	Created    time.Time      `json:"Created"`
	Path       string         `json:"Path"`
	Args       []string       `json:"Args"`
	State      InspectState   `json:"State"`
	Image      string         `json:"Image"`
	Name       string         `json:"Name"`
	ImageName  string         `json:"ImageName"`
	Config     InspectConfig  `json:"Config"`
	HostConfig InspectHost    `json:"HostConfig"`
	Mounts     []InspectMount `json:"Mounts"`
	// NetworkSettings is Docker's block: the published ports while the container runs.
	NetworkSettings InspectNetwork `json:"NetworkSettings"`
	RestartCount    int            `json:"RestartCount"`
	LogPath         string         `json:"LogPath"`
	// Resources is, for every limit, what was asked and what was applied (hutch's own).
	Resources InspectResources `json:"Resources"`
	// Seccomp is the seccomp profile in effect (hutch's own; Docker only shows
	// HostConfig.SecurityOpt).
	Seccomp InspectSeccomp `json:"Seccomp"`
	// SizeRw and SizeRootFs are there with inspect -s, as Docker's.
	SizeRw     *int64 `json:"SizeRw,omitempty"`
	SizeRootFs *int64 `json:"SizeRootFs,omitempty"`
}

// InspectSeccomp names the profile a container runs under.
type InspectSeccomp struct {
	Profile string `json:"Profile"`          // builtin, unconfined or file
	Path    string `json:"Path,omitempty"`   // the file (file)
	Digest  string `json:"Digest,omitempty"` // sha256 of the profile (builtin: of its JSON form)
	Source  string `json:"Source,omitempty"` // builtin: the module it comes from
	// Reason says why a container is unconfined without asking (--privileged).
	Reason string `json:"Reason,omitempty"`
}

// InspectState is Docker's State block.
type InspectState struct {
	Status     string `json:"Status"`
	Running    bool   `json:"Running"`
	Paused     bool   `json:"Paused"`
	Restarting bool   `json:"Restarting"`
	OOMKilled  bool   `json:"OOMKilled"`
	Dead       bool   `json:"Dead"`
	Pid        int    `json:"Pid"`
	ExitCode   int    `json:"ExitCode"`
	Error      string `json:"Error"`
	StartedAt  string `json:"StartedAt"`
	FinishedAt string `json:"FinishedAt"`
	// Health is Docker's: the status, the failing streak and the last five probes
	// (absent without a healthcheck).
	Health *InspectHealth `json:"Health,omitempty"`
}

// InspectHealth is Docker's State.Health.
type InspectHealth struct {
	Status        string         `json:"Status"`
	FailingStreak int            `json:"FailingStreak"`
	Log           []HealthResult `json:"Log"`
}

// InspectConfig is Docker's Config block.
type InspectConfig struct {
	Hostname   string            `json:"Hostname"`
	Domainname string            `json:"Domainname"`
	User       string            `json:"User"`
	Tty        bool              `json:"Tty"`
	OpenStdin  bool              `json:"OpenStdin"`
	Env        []string          `json:"Env"`
	Cmd        []string          `json:"Cmd"`
	Image      string            `json:"Image"`
	WorkingDir string            `json:"WorkingDir"`
	Entrypoint []string          `json:"Entrypoint"`
	Labels     map[string]string `json:"Labels"`
	StopSignal string            `json:"StopSignal,omitempty"`
	// Annotations are --annotation's (Podman shows them here, Docker in HostConfig).
	Annotations map[string]string `json:"Annotations,omitempty"`
	// Healthcheck is the check in effect (the image's with --health-*'s over it).
	Healthcheck *images.Healthcheck `json:"Healthcheck,omitempty"`
}

// InspectHost is Docker's HostConfig block.
type InspectHost struct {
	NetworkMode    string   `json:"NetworkMode"`
	Privileged     bool     `json:"Privileged"`
	ReadonlyRootfs bool     `json:"ReadonlyRootfs"`
	AutoRemove     bool     `json:"AutoRemove"`
	Init           bool     `json:"Init"`
	CapAdd         []string `json:"CapAdd"`
	CapDrop        []string `json:"CapDrop"`
	UsernsMode     string   `json:"UsernsMode"`
	RestartPolicy  struct {
		Name              string `json:"Name"`
		MaximumRetryCount int    `json:"MaximumRetryCount"`
	} `json:"RestartPolicy"`
	Binds []string `json:"Binds"`
	// SecurityOpt are the --security-opt values as given; MaskedPaths and
	// ReadonlyPaths are the paths hidden and made read-only (none with --privileged).
	SecurityOpt   []string `json:"SecurityOpt"`
	MaskedPaths   []string `json:"MaskedPaths"`
	ReadonlyPaths []string `json:"ReadonlyPaths"`
	InspectLimits
	// PortBindings are the -p requests ({"80/tcp": [{"HostIp": "", "HostPort": "8080"}]}).
	PortBindings    map[string][]network.Binding `json:"PortBindings"`
	PublishAllPorts bool                         `json:"PublishAllPorts"`
	// LogConfig is --log-driver and --log-opt ({"Type": "json-file", "Config": {}}).
	LogConfig LogConfig `json:"LogConfig"`
	// Devices are --device's nodes (and the CDI devices' nodes); CDIDevices the CDI names.
	Devices    []DeviceSpec `json:"Devices"`
	CDIDevices []string     `json:"CDIDevices,omitempty"`
	// The process and name settings (--add-host, --dns*, --ulimit, --sysctl,
	// --shm-size, --group-add).
	ExtraHosts []string          `json:"ExtraHosts"`
	DNS        []string          `json:"Dns"`
	DNSSearch  []string          `json:"DnsSearch"`
	DNSOptions []string          `json:"DnsOptions"`
	Ulimits    []InspectUlimit   `json:"Ulimits"`
	Sysctls    map[string]string `json:"Sysctls,omitempty"`
	ShmSize    int64             `json:"ShmSize"`
	GroupAdd   []string          `json:"GroupAdd"`
	// Annotations are --annotation's, where Docker shows them.
	Annotations map[string]string `json:"Annotations,omitempty"`
}

// InspectUlimit is one of Docker's HostConfig.Ulimits (-1: unlimited).
type InspectUlimit struct {
	Name string `json:"Name"`
	Soft int64  `json:"Soft"`
	Hard int64  `json:"Hard"`
}

// InspectMount is one entry of Docker's Mounts.
type InspectMount struct {
	Type        string `json:"Type"`
	Name        string `json:"Name,omitempty"`
	Source      string `json:"Source"`
	Destination string `json:"Destination"`
	Driver      string `json:"Driver,omitempty"` // local, for a volume
	Mode        string `json:"Mode"`             // ro for a read-only mount, "" otherwise
	RW          bool   `json:"RW"`
	Propagation string `json:"Propagation"` // rprivate for a bind mount, "" otherwise
	// SubPath is an image mount's subpath= (Podman's).
	SubPath string `json:"SubPath,omitempty"`
}

// InspectContainer builds the Docker-shaped description of a container. volumeDir maps
// a volume name to its directory.
func (r *Records) InspectContainer(c *Config, volumeDir func(string) string) (*Inspect, error) {
	st, err := r.Current(c.ID)
	if err != nil {
		return nil, err
	}
	ts := func(t time.Time) string {
		if t.IsZero() {
			return "0001-01-01T00:00:00Z"
		}
		return t.Format(time.RFC3339Nano)
	}
	in := &Inspect{
		Id: c.ID, Created: c.Created, Image: "sha256:" + c.ImageID, Name: "/" + c.Name, ImageName: c.ImageName,
		RestartCount: st.Restarts, LogPath: r.LogPath(c.ID), Mounts: []InspectMount{},
		State: InspectState{Status: Summary{Config: c, State: st}.StateText(), Running: st.Status == StatusRunning, Paused: Paused(st), OOMKilled: st.OOMKilled,
			ExitCode: st.ExitCode, Error: st.Error, StartedAt: ts(st.StartedAt), FinishedAt: ts(st.FinishedAt)},
		Config: InspectConfig{Hostname: c.Hostname, User: c.User, Tty: c.TTY, OpenStdin: c.Interactive,
			Env: c.Env, Cmd: c.Cmd, Image: c.ImageName, WorkingDir: c.Cwd, Labels: c.Labels, StopSignal: c.StopSignal},
	}
	if len(c.Args) > 0 {
		in.Path, in.Args = c.Args[0], c.Args[1:]
	}
	if in.State.Running {
		in.State.Pid = st.Pid
	}
	if h := r.Health(c, st); h != nil {
		in.State.Health = &InspectHealth{Status: h.Status, FailingStreak: h.FailingStreak, Log: h.Log}
	}
	in.Config.Healthcheck = c.Healthcheck
	if c.Entrypoint != nil {
		in.Config.Entrypoint = *c.Entrypoint
	}
	if in.Config.Labels == nil {
		in.Config.Labels = map[string]string{}
	}
	h := &in.HostConfig
	h.NetworkMode, h.Privileged, h.ReadonlyRootfs = c.Network.Mode, c.Privileged, c.ReadOnly
	if c.Network.Mode == network.ModeContainer {
		h.NetworkMode = "container:" + c.Network.Container // as Docker: by ID
	}
	h.AutoRemove, h.Init, h.CapAdd, h.CapDrop, h.UsernsMode = c.AutoRemove, c.Init, c.CapAdd, c.CapDrop, c.Userns
	h.RestartPolicy.Name, h.RestartPolicy.MaximumRetryCount = ParseRestart(c.Restart)
	h.Binds = []string{}
	h.SecurityOpt = append([]string{}, c.SecurityOpt()...)
	h.MaskedPaths, h.ReadonlyPaths = []string{}, []string{}
	if !c.Privileged {
		var mask, unmask []string
		if c.Security != nil {
			mask, unmask = c.Security.Mask, c.Security.Unmask
		}
		h.MaskedPaths, h.ReadonlyPaths = nsinit.Masks(mask, unmask)
		h.MaskedPaths, h.ReadonlyPaths = append([]string{}, h.MaskedPaths...), append([]string{}, h.ReadonlyPaths...)
	}
	in.Seccomp = inspectSeccomp(c)
	h.InspectLimits = inspectLimits(c.Resources)
	in.Resources = inspectResources(c, st)
	for _, m := range c.Mounts {
		im := InspectMount{Type: m.Type, Source: m.Source, Destination: m.Destination, RW: !m.ReadOnly, SubPath: m.SubPath}
		if m.ReadOnly {
			im.Mode = "ro"
		}
		if m.Type == "volume" {
			im.Name, im.Source, im.Driver = m.Source, volumeDir(m.Source), "local"
		}
		if m.Type == "bind" {
			im.Propagation = "rprivate"
		}
		if m.Type == "bind" {
			mode := "rw"
			if m.ReadOnly {
				mode = "ro"
			}
			h.Binds = append(h.Binds, m.Source+":"+m.Destination+":"+mode)
		}
		in.Mounts = append(in.Mounts, im)
	}
	in.NetworkSettings = inspectNetwork(c, st)
	h.PortBindings, h.PublishAllPorts = network.Bindings(c.Ports), c.PublishAll
	h.LogConfig = LogConfig{Type: c.LogDriver(), Config: map[string]string{}}
	if c.LogConfig != nil && c.LogConfig.Config != nil {
		h.LogConfig.Config = c.LogConfig.Config
	}
	h.Devices, h.CDIDevices = append([]DeviceSpec{}, c.Devices...), c.CDIDevices
	h.ExtraHosts, h.DNS, h.DNSSearch, h.DNSOptions = c.Network.ExtraHosts, c.Network.DNS, c.Network.DNSSearch, c.Network.DNSOptions
	h.Sysctls, h.ShmSize, h.GroupAdd = c.Sysctls, c.ShmSize, c.GroupAdd
	h.Annotations, in.Config.Annotations = c.Annotations, c.Annotations
	if h.ShmSize == 0 {
		h.ShmSize = 64 << 20
	}
	for _, u := range c.Ulimits {
		h.Ulimits = append(h.Ulimits, InspectUlimit{Name: u.Name, Soft: int64(u.Soft), Hard: int64(u.Hard)})
	}
	in.Config.Domainname = c.Domainname
	return in, nil
}

func inspectSeccomp(c *Config) InspectSeccomp {
	s := c.SeccompProfile()
	out := InspectSeccomp{Profile: s.Mode, Path: s.Path, Digest: s.Digest}
	switch s.Mode {
	case security.SeccompBuiltin, "":
		out.Profile, out.Digest, out.Source = security.SeccompBuiltin, security.BuiltinDigest(), security.BuiltinVersion()
	case security.SeccompUnconfined:
		if c.Privileged {
			out.Reason = "--privileged"
		}
	}
	return out
}
