package testenv

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// AddSystemUser creates a local user (no home, no login shell) with a
// random password, for services that authenticate against system accounts,
// and removes it when the test ends. prefix should be short (user names
// are at most 32 bytes).
func AddSystemUser(t testing.TB, prefix string) (user, password string) {
	t.Helper()
	RequireRoot(t)
	RequireCommand(t, "useradd")
	user, password = prefix+RandomSuffix(), "pw-"+RandomSuffix()+RandomSuffix()
	if err := accountCommand("", "useradd", "--no-create-home", "--no-user-group", "--shell", "/usr/sbin/nologin", user); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := accountCommand("", "userdel", user); err != nil {
			t.Error(err)
		}
	})
	if err := accountCommand(user+":"+password+"\n", "chpasswd"); err != nil {
		t.Fatal(err)
	}
	return user, password
}

// accountCommand runs useradd, userdel or chpasswd, trying again for a few
// seconds while another program (another test package) holds the lock on
// /etc/passwd or /etc/shadow.
func accountCommand(stdin, name string, args ...string) error {
	return Poll(5*time.Second, func() error {
		cmd := exec.Command(name, args...)
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		if err == nil {
			return nil
		}
		err = fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, out)
		if !strings.Contains(string(out), "lock") {
			return Stop(err) // not due to the lock: no retry
		}
		return err
	})
}
