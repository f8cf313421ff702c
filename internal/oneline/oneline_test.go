package oneline

import "testing"

func TestFold(t *testing.T) {
	for in, want := range map[string]string{
		"":                         "",
		"  a  ":                    "a",
		"a\nb\r\n\tc":              "a b c",
		"no such file\n\ndetails ": "no such file details",
	} {
		if got := Fold(in); got != want {
			t.Errorf("Fold(%q) = %q, want %q", in, got, want)
		}
	}
}
