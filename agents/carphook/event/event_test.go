package event

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		src   string
		args  string
		group string
		state State
		usage bool
	}{
		{"ucarp", "up eth0 10.0.0.5", "10.0.0.5", Master, false},
		{"ucarp", "down eth0 10.0.0.5 dante", "dante", Backup, false},
		{"ucarp", "UP eth0 10.0.0.5 dante", "dante", Master, false},
		{"ucarp", "sideways eth0 10.0.0.5", "", "", true},
		{"ucarp", "up eth0", "", "", true},
		{"ucarp", "up eth0 1.2.3.4 a b", "", "", true},
		{"ucarp", "up eth0 1.2.3.4 ../x", "", "", true},
		{"keepalived", "INSTANCE VI_1 MASTER 150", "VI_1", Master, false},
		{"keepalived", "GROUP VG_1 BACKUP 100", "VG_1", Backup, false},
		{"keepalived", "dante INSTANCE VI_1 FAULT 0", "dante", Fault, false},
		{"keepalived", "INSTANCE VI_1 STOP 150", "VI_1", Stop, false},
		{"keepalived", "INSTANCE VI_1 DELETED 150", "VI_1", Stop, false}, // notify_deleted: released like STOP
		{"keepalived", "dante GROUP VG_1 deleted 0", "dante", Stop, false},
		{"keepalived", "INSTANCE VI_1 INIT 150", "", "", true},
		{"keepalived", "INSTANCE VI_1 MASTER high", "", "", true},
		{"keepalived", "INSTANCE VI_1 MASTER 256", "", "", true},
		{"keepalived", "SERVER VI_1 MASTER 150", "", "", true},
		{"keepalived", "a b INSTANCE VI_1 MASTER 150", "", "", true},
		{"devd", "1@em0 MASTER", "1@em0", Master, false},
		{"devd", "42@vtnet0.5 BACKUP", "42@vtnet0.5", Backup, false},
		{"devd", "1@em0 INIT", "1@em0", Init, false},
		{"devd", "1@em0 FAULT", "", "", true},
		{"devd", "em0 MASTER", "", "", true},
		{"devd", "01@em0 MASTER", "", "", true},
		{"devd", "0@em0 MASTER", "", "", true},
		{"ifstated", "up carp0", "carp0", Master, false},
		{"ifstated", "MASTER", "", Master, false},
		{"ifstated", "down", "", Backup, false},
		{"ifstated", "unknown carp1", "carp1", Init, false},
		{"ifstated", "", "", "", true},
		{"ifstated", "maybe carp0", "", "", true},
		{"apply", "dante master", "dante", Master, false},
		{"apply", "dante STOP", "dante", Stop, false},
		{"apply", "dante", "", "", true},
		{"apply", "dante RUNNING", "", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.src+" "+tt.args, func(t *testing.T) {
			ev, err := Parse(tt.src, strings.Fields(tt.args))
			if tt.usage {
				if !IsUsage(err) {
					t.Fatalf("err = %v, want a usage error", err)
				}
				if !strings.Contains(err.Error(), Forms[tt.src]) {
					t.Errorf("usage error %q does not name the form %q", err, Forms[tt.src])
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ev.Group != tt.group || ev.State != tt.state || ev.Source != tt.src {
				t.Errorf("got %+v, want group %q state %s", ev, tt.group, tt.state)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"ucarp\x00up\x00eth0\x0010.0.0.5\x00dante",
		"keepalived\x00INSTANCE\x00VI_1\x00MASTER\x00150",
		"keepalived\x00dante\x00GROUP\x00VG\x00STOP\x000",
		"devd\x001@em0\x00BACKUP",
		"ifstated\x00up\x00carp0",
		"apply\x00g\x00FAULT",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		parts := strings.Split(in, "\x00")
		ev, err := Parse(parts[0], parts[1:])
		if err != nil {
			return
		}
		if _, err := ParseState(string(ev.State)); err != nil {
			t.Fatalf("invalid state %q from %q", ev.State, parts)
		}
		if ev.Group != "" && !validName(ev.Group) {
			t.Fatalf("invalid group %q from %q", ev.Group, parts)
		}
		if ev.Group == "" && ev.Source != "ifstated" {
			t.Fatalf("empty group from %q", parts)
		}
	})
}
