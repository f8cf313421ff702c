package testenv

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
)

// TestCommandPackagesListed checks that every package of CommandPackages is
// in scripts/packages.txt, the list scripts/deps.sh installs.
func TestCommandPackagesListed(t *testing.T) {
	f, err := os.Open("../../scripts/packages.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	listed := map[string]bool{}
	s := bufio.NewScanner(f)
	for s.Scan() {
		if fields := strings.Fields(s.Text()); len(fields) > 0 && !strings.HasPrefix(fields[0], "#") {
			listed[fields[0]] = true
		}
	}
	for cmd, pkg := range CommandPackages {
		if !listed[pkg] {
			t.Errorf("%s: package %s is not in scripts/packages.txt", cmd, pkg)
		}
	}
}

// TestLookCommandNamesPackage checks that a program missing from PATH is
// reported at once with its Debian package, and that a program found only
// outside PATH is not accepted (a child looking it up by name would fail).
func TestLookCommandNamesPackage(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := LookCommand("crm_mon")
	if err == nil {
		t.Fatal("crm_mon found with an empty PATH")
	}
	if !strings.Contains(err.Error(), "pacemaker-cli-utils") {
		t.Errorf("error %q does not name pacemaker-cli-utils", err)
	}
	if _, statErr := os.Stat("/usr/sbin/crm_mon"); statErr == nil && !strings.Contains(err.Error(), "not on PATH") {
		t.Errorf("error %q does not say crm_mon is not on PATH", err)
	}
	_, err = LookCommand("ocfkit-no-such-program")
	if err == nil || !strings.Contains(err.Error(), "no Debian package known") {
		t.Errorf("unknown program: %v", err)
	}
}

// TestStrict checks the variables that make a missing requirement fail.
func TestStrict(t *testing.T) {
	t.Setenv("CI", "")
	t.Setenv(StrictEnv, "")
	if Strict() {
		t.Error("Strict with neither CI nor " + StrictEnv)
	}
	t.Setenv(StrictEnv, "1")
	if !Strict() {
		t.Error("not Strict with " + StrictEnv + "=1")
	}
	t.Setenv(StrictEnv, "")
	t.Setenv("CI", "true")
	if !Strict() {
		t.Error("not Strict with CI=true")
	}
}

// skipRecorder is a testing.TB that records a skip or a failure and ends
// the goroutine, as the real ones end the test.
type skipRecorder struct {
	testing.TB
	skipped, failed string
}

func (r *skipRecorder) Skipf(format string, args ...any) {
	r.skipped = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func (r *skipRecorder) Fatalf(format string, args ...any) {
	r.failed = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// record runs fn with a skipRecorder on a goroutine of its own.
func record(t *testing.T, fn func(testing.TB)) *skipRecorder {
	r := &skipRecorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(r)
	}()
	<-done
	return r
}

// TestNotApplicableSkips checks that a kernel limit skips even when Strict,
// with the prefix tests/run.sh counts, that anything else is refused, and
// that a missing program fails when Strict.
func TestNotApplicableSkips(t *testing.T) {
	t.Setenv(StrictEnv, "1")
	r := record(t, func(tb testing.TB) { NotApplicable(tb, NoIPVS, "modprobe ip_vs failed") })
	if !strings.HasPrefix(r.skipped, NotApplicablePrefix+string(NoIPVS)) || r.failed != "" {
		t.Errorf("NotApplicable(NoIPVS): skipped %q, failed %q", r.skipped, r.failed)
	}
	r = record(t, func(tb testing.TB) { NotApplicable(tb, Limit("danted is not installed"), "") })
	if r.skipped != "" || r.failed == "" {
		t.Errorf("NotApplicable with a reason that is no kernel limit: skipped %q, failed %q", r.skipped, r.failed)
	}
	r = record(t, func(tb testing.TB) { RequireCommand(tb, "ocfkit-no-such-program") })
	if r.skipped != "" || r.failed == "" {
		t.Errorf("RequireCommand of a missing program when Strict: skipped %q, failed %q", r.skipped, r.failed)
	}
}
