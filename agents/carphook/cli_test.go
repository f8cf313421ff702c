package carphook

import (
	"os"
	"path/filepath"
	"testing"
)

func TestExitCodes(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.toml")
	bad := filepath.Join(dir, "bad.toml")
	for path, content := range map[string]string{
		good: "state_dir = \"" + dir + "/state\"\n[group.g]\n[[group.g.action]]\ntype = \"role-file\"\npath = \"" + dir + "/role\"\n",
		bad:  "[group.g]\n[[group.g.action]]\ntype = \"role-file\"\nunit = \"x\"\n",
	} {
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		args []string
		want int
	}{
		{[]string{"check-config", good}, exitOK},
		{[]string{"check-config", bad}, exitFailed},
		{[]string{"--config", good, "check-config"}, exitOK},
		{[]string{"--config", good, "ucarp", "sideways", "eth0", "10.0.0.5"}, exitUsage},
		{[]string{"--config", good, "keepalived", "INSTANCE", "VI_1", "MASTER"}, exitUsage},
		{[]string{"--config", good, "devd", "em0", "MASTER"}, exitUsage},
		{[]string{"--config", good, "ifstated"}, exitUsage},
		{[]string{"--config", good, "apply", "g"}, exitUsage},
		{[]string{"--config", good, "status"}, exitUsage},
		{[]string{"--config", good, "status", "g"}, exitOK}, // no event yet
		{[]string{"--config", good, "status", "nope"}, exitFailed},
		{[]string{"--config", filepath.Join(dir, "missing.toml"), "apply", "g", "MASTER"}, exitFailed},
	}
	for _, tt := range tests {
		if got := exitCode(app().Run(append([]string{"carp-hook"}, tt.args...))); got != tt.want {
			t.Errorf("carp-hook %v: exit %d, want %d", tt.args, got, tt.want)
		}
	}
}
