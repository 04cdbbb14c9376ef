package pulid

import "testing"

func TestNewIsValidAndUnique(t *testing.T) {
	seen := map[ID]bool{}
	for i := 0; i < 1000; i++ {
		id := New("us")
		if !id.Valid() {
			t.Fatalf("New(us) = %q, not valid", id)
		}
		if id.Prefix() != "us" {
			t.Fatalf("Prefix() = %q, want us", id.Prefix())
		}
		if seen[id] {
			t.Fatalf("duplicate id %q", id)
		}
		seen[id] = true
	}
}

func TestValid(t *testing.T) {
	for _, tc := range []struct {
		name string
		id   ID
		want bool
	}{
		{"fresh", New("ch"), true},
		{"empty", "", false},
		{"short", "us123", false},
		{"upper prefix", ID("US" + string(New("us")[2:])), false},
		{"lower body", ID("us" + "01jd3f4m5x8q9r2t6v7w8y9z0a"), false},
		{"sql", ID("us' OR 1=1 --                "), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.id.Valid(); got != tc.want {
				t.Errorf("Valid(%q) = %v, want %v", tc.id, got, tc.want)
			}
		})
	}
}
