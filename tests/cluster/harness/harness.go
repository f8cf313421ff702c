// Package harness starts real Corosync + Pacemaker clusters for integration
// tests, without systemd, and tears them down whatever the outcome.
//
// Every node lives in a network namespace of its own (Pacemaker and Corosync
// talk over abstract unix sockets, which belong to a network namespace) and
// in a mount and UTS namespace of its own, held open by a small holder
// process. Inside that mount namespace /var/lib/pacemaker, /var/lib/corosync
// and /var/log/pacemaker are bind mounts of per-node directories, and /run and
// /dev/shm are private tmpfs mounts, so no node touches the machine's CIB and
// two nodes can run side by side on one machine. The CIB is pre-seeded with
// stonith-enabled=false and dc-deadtime=2s, which brings a DC in about 5 s.
//
// Only one harness cluster runs at a time on a machine: Start takes an
// exclusive lock (waiting for another test process to finish), removes the
// namespaces (and every process in them) of earlier test processes that died
// before their cleanups ran, and then refuses to start while any corosync or
// Pacemaker daemon runs: the machine runs a cluster of its own, which the
// tests never touch. The daemons a node runs are started with
// testenv.StartTied: they die with the test process, even when go test
// -timeout kills it.
//
// Teardown (a t.Cleanup) sends SIGTERM to pacemakerd, which stops the
// resources and its daemons, then to corosync, by recorded PID; kills what is
// still left in the nodes' network namespaces; and removes the namespaces and
// the per-node directories. Create further namespaces (clients, servers)
// before calling Start, so that they are removed after the cluster has
// stopped the resources that use them.
//
// Commands run inside a node with Node.Command, Run, Output or MustRun
// (nsenter into its namespaces: the Pacemaker CLIs only see the cluster from
// there); Cluster.Status parses `crm_mon --output-as=xml`.
package harness

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ocfkit/ocfkit/internal/testenv"
)

// Options describe the cluster to start.
type Options struct {
	// Nodes is the number of nodes: 1 (default) or more. With one node,
	// corosync talks on 127.0.0.1 in a namespace that has only lo. With
	// more, the nodes are joined by a bridge in a switch namespace and
	// get eth0 with address Subnet.N (N = 11, 12, ...).
	Nodes int
	// Prefix names the namespaces (short: interface names derive from it).
	// Default "pc".
	Prefix string
	// Subnet is the first three octets of the ring network for several
	// nodes. Default "10.208.0".
	Subnet string
	// DCTimeout bounds the wait for a DC with every node online. Default 60 s.
	DCTimeout time.Duration
}

// Cluster is a running cluster started by Start.
type Cluster struct {
	Nodes []*Node
	// Switch holds the bridge "br0" joining the nodes (nil with one node).
	// Further namespaces (clients, servers) can be plugged into it with
	// Plug.
	Switch *testenv.NS
	dir    string
}

// Node is one Corosync + Pacemaker node.
type Node struct {
	// Name is the cluster node name: node1, node2, ...
	Name string
	// ID is the corosync node ID (1, 2, ...).
	ID int
	// NS is the node's network namespace.
	NS *testenv.NS
	// RingAddr is the address corosync uses (127.0.0.1 for a single node).
	RingAddr string
	// Dir is the node's state directory on the host: pcmk/ is its
	// /var/lib/pacemaker, log/ its /var/log/pacemaker (pacemaker.log),
	// corosync.log and corosync.conf are here too.
	Dir string

	holder     *proc
	corosync   *proc
	pacemakerd *proc
}

// holderScript runs as the holder of a node's mount and UTS namespaces: it
// sets the hostname, makes the node's private directories and mounts, reports
// "ready" on stdout and then waits forever. $1 is the node's state dir, $2 its
// name.
const holderScript = `set -eu
S=$1
hostname "$2"
mount -t tmpfs -o mode=755 tmpfs /run
mkdir -p /run/lock /run/resource-agents
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mkdir -p "$S/pcmk/cib" "$S/pcmk/pengine" "$S/pcmk/blackbox" "$S/pcmk/cores" "$S/log/bundles" "$S/corosync"
chown -R hacluster:haclient "$S/pcmk" "$S/log"
chmod 750 "$S/pcmk"/*
chmod 770 "$S/log"
mount --bind "$S/pcmk" /var/lib/pacemaker
mount --bind "$S/log" /var/log/pacemaker
mount --bind "$S/corosync" /var/lib/corosync
echo ready
exec sleep infinity
`

// seedCIB makes the first DC election fast and disables fencing.
const seedCIB = `<cib crm_feature_set="3.16.1" validate-with="pacemaker-3.9" epoch="1" num_updates="0" admin_epoch="0">
  <configuration>
    <crm_config>
      <cluster_property_set id="cib-bootstrap-options">
        <nvpair id="cib-bootstrap-options-stonith-enabled" name="stonith-enabled" value="false"/>
        <nvpair id="cib-bootstrap-options-dc-deadtime" name="dc-deadtime" value="2s"/>
      </cluster_property_set>
    </crm_config>
    <nodes/>
    <resources/>
    <constraints/>
  </configuration>
  <status/>
</cib>
`

// Requirements lists the programs the harness runs.
var Requirements = []string{"corosync", "corosync-quorumtool", "pacemakerd", "crm_mon", "pcs", "cibadmin", "crm_resource", "nsenter", "unshare", "ip"}

// Start starts a cluster and registers its teardown with t.Cleanup. It
// returns once a DC is elected and every node is online, or fails the test.
func Start(t testing.TB, opts Options) *Cluster {
	t.Helper()
	testenv.RequireRoot(t)
	for _, c := range Requirements {
		testenv.RequireCommand(t, c)
	}
	if opts.Nodes <= 0 {
		opts.Nodes = 1
	}
	if opts.Prefix == "" {
		opts.Prefix = "pc"
	}
	if opts.Subnet == "" {
		opts.Subnet = "10.208.0"
	}
	if opts.DCTimeout == 0 {
		opts.DCTimeout = 60 * time.Second
	}
	unlock := acquireLock(t, 5*time.Minute)
	t.Cleanup(unlock)
	started := time.Now()
	preflight(t)

	c := &Cluster{dir: testenv.SharedTempDir(t, "cluster")}
	if opts.Nodes > 1 {
		c.Switch = testenv.NewNS(t, opts.Prefix+"sw")
		c.Switch.MustRun(t, "ip", "link", "add", "br0", "type", "bridge")
		c.Switch.MustRun(t, "ip", "link", "set", "br0", "up")
	}
	for i := 1; i <= opts.Nodes; i++ {
		n := &Node{Name: fmt.Sprintf("node%d", i), ID: i, NS: testenv.NewNS(t, fmt.Sprintf("%sn%d", opts.Prefix, i))}
		n.Dir = filepath.Join(c.dir, n.Name)
		if err := os.MkdirAll(n.Dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if opts.Nodes == 1 {
			n.RingAddr = "127.0.0.1"
		} else {
			n.RingAddr = fmt.Sprintf("%s.%d", opts.Subnet, 10+i)
			c.Plug(t, n.NS, "eth0", n.RingAddr+"/24")
		}
		c.Nodes = append(c.Nodes, n)
	}
	// One cleanup for the whole cluster, registered after the namespaces
	// (cleanups run last-in first-out): the daemons stop before the
	// namespaces go.
	t.Cleanup(func() { c.teardown(t) })

	conf := c.corosyncConf()
	for _, n := range c.Nodes {
		n.startHolder(t)
		n.seed(t, strings.ReplaceAll(conf, "@LOG@", filepath.Join(n.Dir, "corosync.log")))
	}
	for _, n := range c.Nodes {
		n.corosync = n.start(t, "corosync", nil, "corosync", "-f", "-c", filepath.Join(n.Dir, "corosync.conf"))
	}
	for _, n := range c.Nodes {
		n := n
		testenv.WaitFor(t, 20*time.Second, n.Name+": corosync ready", func() error {
			if n.corosync.exited() {
				return fmt.Errorf("corosync exited: %s", tail(filepath.Join(n.Dir, "corosync.log"), 5))
			}
			_, err := n.Run("corosync-quorumtool", "-s")
			return err
		})
	}
	t.Logf("cluster: corosync ready on %d node(s) after %v", len(c.Nodes), time.Since(started).Round(time.Millisecond))
	for _, n := range c.Nodes {
		n.pacemakerd = n.start(t, "pacemakerd", []string{"PCMK_logfile=/var/log/pacemaker/pacemaker.log"}, "pacemakerd")
	}
	c.WaitStatus(t, opts.DCTimeout, "a DC with every node online", func(s *Status) error {
		for _, n := range c.Nodes {
			if n.pacemakerd.exited() {
				return fmt.Errorf("%s: pacemakerd exited: %s", n.Name, tail(n.PacemakerLog(), 5))
			}
		}
		if !s.DC.Present {
			return errors.New("no DC yet")
		}
		for _, n := range c.Nodes {
			if !s.NodeOnline(n.Name) {
				return fmt.Errorf("%s not online", n.Name)
			}
		}
		return nil
	})
	s, _ := c.Status()
	t.Logf("cluster: DC %s elected, %d node(s) online, %v after start", s.DC.Name, len(c.Nodes), time.Since(started).Round(time.Millisecond))
	return c
}

// preflight, with the cluster lock held, removes what dead test processes
// left and fails the test when the machine runs a cluster of its own.
func preflight(t testing.TB) {
	t.Helper()
	if reaped, err := testenv.ReapLeftovers(); err != nil {
		t.Fatal(err)
	} else if len(reaped) > 0 {
		t.Logf("cluster: removed namespaces left by dead test processes: %s", strings.Join(reaped, " "))
	}
	// A cluster torn down a moment ago (this run's previous test, or
	// another test process that just released the lock) may still have a
	// daemon exiting: give those a few seconds. A cluster of the machine's
	// own does not go away.
	var others []string
	_ = testenv.Poll(5*time.Second, func() error {
		if others = foreignClusterDaemons(); len(others) > 0 {
			return fmt.Errorf("%d cluster daemons", len(others))
		}
		return nil
	})
	if len(others) > 0 {
		t.Fatalf("refusing to start a cluster: this machine runs a cluster (%s): run the tests on a test machine", strings.Join(others, ", "))
	}
}

// corosyncConf returns the corosync.conf for all nodes; @LOG@ stands for the
// node's log file.
func (c *Cluster) corosyncConf() string {
	var b strings.Builder
	b.WriteString(`totem {
    version: 2
    cluster_name: ocfkit
    transport: knet
    crypto_cipher: none
    crypto_hash: none
    token: 1000
}
logging {
    to_stderr: no
    to_logfile: yes
    logfile: @LOG@
    to_syslog: no
    timestamp: hires
}
quorum {
    provider: corosync_votequorum
`)
	if len(c.Nodes) == 2 {
		b.WriteString("    two_node: 1\n")
	}
	b.WriteString("}\nnodelist {\n")
	for _, n := range c.Nodes {
		fmt.Fprintf(&b, "    node {\n        name: %s\n        nodeid: %d\n        ring0_addr: %s\n    }\n", n.Name, n.ID, n.RingAddr)
	}
	b.WriteString("}\n")
	return b.String()
}

// Plug connects namespace ns to the switch's bridge with interface ifName
// carrying addr (CIDR; empty for none).
func (c *Cluster) Plug(t testing.TB, ns *testenv.NS, ifName, addr string) {
	t.Helper()
	if c.Switch == nil {
		t.Fatal("Plug needs a cluster with a switch (Nodes > 1)")
	}
	port := "p" + testenv.RandomSuffix()
	testenv.Veth(t, ns, ifName, addr, c.Switch, port, "")
	c.Switch.MustRun(t, "ip", "link", "set", port, "master", "br0")
}

// startHolder starts the process that holds the node's mount and UTS
// namespaces and waits until its mounts are in place.
func (n *Node) startHolder(t testing.TB) {
	t.Helper()
	cmd := n.NS.Command("unshare", "--mount", "--uts", "--propagation", "private", "sh", "-c", holderScript, "holder", n.Dir, n.Name)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := testenv.StartTied(cmd); err != nil {
		t.Fatalf("%s: starting namespace holder: %v", n.Name, err)
	}
	n.holder = newProc(cmd)
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(out).ReadString('\n')
		line <- s
	}()
	select {
	case s := <-line:
		if strings.TrimSpace(s) != "ready" {
			t.Fatalf("%s: namespace holder failed: %q %s", n.Name, s, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: namespace holder not ready after 10 s: %s", n.Name, stderr.String())
	}
}

// seed writes corosync.conf and the pre-seeded CIB.
func (n *Node) seed(t testing.TB, conf string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(n.Dir, "corosync.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cib := filepath.Join(n.Dir, "pcmk", "cib", "cib.xml")
	if err := os.WriteFile(cib, []byte(seedCIB), 0o600); err != nil {
		t.Fatal(err)
	}
	// Owned by hacluster:haclient, mode 600, no .sig: pacemaker-based
	// accepts it and signs it.
	if out, err := exec.Command("chown", "hacluster:haclient", cib).CombinedOutput(); err != nil {
		t.Fatalf("chown %s: %v: %s", cib, err, out)
	}
}

// nsenterArgs returns the nsenter arguments that enter the node's network,
// mount and UTS namespaces.
func (n *Node) nsenterArgs() []string {
	return []string{"-t", strconv.Itoa(n.holder.pid), "-m", "-u", "-n"}
}

// Command returns a command that runs inside the node (its network, mount
// and UTS namespaces). nsenter execs the program, so the command's PID is
// the program's own.
func (n *Node) Command(name string, args ...string) *exec.Cmd {
	return exec.Command("nsenter", append(append(n.nsenterArgs(), "--", name), args...)...)
}

// CommandContext is Command bounded by ctx.
func (n *Node) CommandContext(ctx context.Context, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "nsenter", append(append(n.nsenterArgs(), "--", name), args...)...)
}

// Run runs a command inside the node, bounded by one minute, and returns its
// combined output.
func (n *Node) Run(name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var buf bytes.Buffer
	cmd := n.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = &buf, &buf
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	if err != nil {
		err = fmt.Errorf("on %s: %s %s: %w: %s", n.Name, name, strings.Join(args, " "), err, strings.TrimSpace(buf.String()))
	}
	return buf.String(), err
}

// Output runs a command inside the node and returns its stdout only.
func (n *Node) Output(name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := n.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	if err != nil {
		err = fmt.Errorf("on %s: %s %s: %w: %s", n.Name, name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), err
}

// MustRun is Run that fails the test on error.
func (n *Node) MustRun(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := n.Run(name, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// PacemakerLog is the path of the node's pacemaker.log on the host.
func (n *Node) PacemakerLog() string { return filepath.Join(n.Dir, "log", "pacemaker.log") }

// start starts a daemon inside the node with extra environment variables.
func (n *Node) start(t testing.TB, what string, env []string, name string, args ...string) *proc {
	t.Helper()
	cmd := n.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	logf, err := os.Create(filepath.Join(n.Dir, what+".out"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := testenv.StartTied(cmd); err != nil {
		t.Fatalf("%s: starting %s: %v", n.Name, what, err)
	}
	return newProc(cmd)
}

// Pcs runs pcs on the first node and fails the test when it fails.
func (c *Cluster) Pcs(t testing.TB, args ...string) string {
	t.Helper()
	return c.Nodes[0].MustRun(t, "pcs", args...)
}

// Node returns the node with the given name, or nil.
func (c *Cluster) Node(name string) *Node {
	for _, n := range c.Nodes {
		if n.Name == name {
			return n
		}
	}
	return nil
}

// Other returns the name of the node other than name in a two-node
// cluster.
func (c *Cluster) Other(name string) string {
	for _, n := range c.Nodes {
		if n.Name != name {
			return n.Name
		}
	}
	return ""
}

// teardown stops pacemakerd (which stops the resources first), then
// corosync, then the holders, on every node, by recorded PID; kills whatever
// is left in the nodes' network namespaces; and, when the test failed, shows
// the end of the logs.
func (c *Cluster) teardown(t testing.TB) {
	t0 := time.Now()
	if t.Failed() {
		for _, n := range c.Nodes {
			t.Logf("%s: end of pacemaker.log:\n%s", n.Name, tail(n.PacemakerLog(), 40))
			t.Logf("%s: end of corosync.log:\n%s", n.Name, tail(filepath.Join(n.Dir, "corosync.log"), 10))
		}
	}
	// pacemakerd on every node at once: each stops its resources and its
	// daemons. Record its children first so leftovers can be ended.
	children := map[*Node][]Process{}
	for _, n := range c.Nodes {
		if n.pacemakerd != nil {
			children[n] = childrenOf(n.pacemakerd.pid)
			n.pacemakerd.signal(syscall.SIGTERM)
		}
	}
	for _, n := range c.Nodes {
		if n.pacemakerd == nil {
			continue
		}
		if !n.pacemakerd.waitExit(90 * time.Second) {
			t.Errorf("%s: pacemakerd ignored SIGTERM for 90 s; killing it", n.Name)
			n.pacemakerd.kill()
		}
		for _, p := range children[n] {
			if p.Alive() && !waitGone(p, 10*time.Second) {
				t.Errorf("%s: pacemaker daemon %d still running after pacemakerd exited; killing it", n.Name, p.PID)
				p.Kill()
			}
		}
	}
	for _, n := range c.Nodes {
		if n.corosync != nil {
			n.corosync.signal(syscall.SIGTERM)
		}
	}
	for _, n := range c.Nodes {
		if n.corosync != nil && !n.corosync.waitExit(20*time.Second) {
			t.Errorf("%s: corosync ignored SIGTERM for 20 s; killing it", n.Name)
			n.corosync.kill()
		}
		if n.holder != nil {
			n.holder.kill()
		}
	}
	// Anything still in a node's network namespace was started there by
	// the cluster (a resource that survived its stop): end it.
	for _, n := range c.Nodes {
		for _, p := range processesInNetNS(n.NS.Name) {
			t.Logf("%s: ending leftover process %d (%s)", n.Name, p.PID, p.Cmdline())
			p.Kill()
		}
	}
	t.Logf("cluster: torn down in %v", time.Since(t0).Round(time.Millisecond))
}

// tail returns the last n lines of a file.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
