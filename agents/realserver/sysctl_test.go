package realserver

import (
	"strings"
	"testing"
)

func TestArpInterfaceNames(t *testing.T) {
	if n, err := arpInterfaceNames("all"); err != nil || n != nil {
		t.Errorf("all: %v %v", n, err)
	}
	if n, err := arpInterfaceNames("eth1, eth0 bond0.100"); err != nil || strings.Join(n, " ") != "bond0.100 eth0 eth1" {
		t.Errorf("list: %v %v", n, err)
	}
	for _, bad := range []string{"", " , ", "../x", "eth0,..", "all,eth0", "a/b", "averyveryverylongname"} {
		if _, err := arpInterfaceNames(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestWanted(t *testing.T) {
	for _, tc := range []struct {
		name, v, want string
		ok            bool
	}{
		{arpIgnore, "0", "1", false}, {arpIgnore, "1", "1", true}, {arpIgnore, "2", "1", true},
		{arpIgnore, "3", "1", false}, {arpIgnore, "5", "1", false}, {arpIgnore, "8", "1", true},
		{arpAnnounce, "0", "2", false}, {arpAnnounce, "1", "2", false}, {arpAnnounce, "2", "2", true},
	} {
		if want, ok := wanted(tc.name, tc.v); want != tc.want || ok != tc.ok {
			t.Errorf("wanted(%s, %s) = %s %v", tc.name, tc.v, want, ok)
		}
	}
}
