package metadata

import "testing"

func TestProviderAndNames(t *testing.T) {
	names := Names()
	if len(names) < 2 || names[0] != "sockd" && names[1] != "sockd" {
		t.Fatalf("Names() = %v, want sockd and vipcheck among them", names)
	}
	for name, want := range map[string]string{"sockd": "dante", "vipcheck": "ocfkit", "realserver": "ocfkit"} {
		if got := Provider(name); got != want {
			t.Errorf("Provider(%q) = %q, want %q", name, got, want)
		}
	}
	for p := range providers {
		if _, err := Load(p); err != nil {
			t.Errorf("providers names %q, which has no meta-data: %v", p, err)
		}
	}
}
