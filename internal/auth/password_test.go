package auth

import (
	"strings"
	"testing"
)

func TestPasswordHashing(t *testing.T) {
	h, err := HashPassword("correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("hash %q is not an argon2id PHC string with the OWASP parameters", h)
	}
	h2, _ := HashPassword("correct horse battery staple")
	if h == h2 {
		t.Errorf("two hashes of one password are equal: salts are not random")
	}
	for _, tc := range []struct {
		name, hash, pw string
		want           bool
	}{
		{"right password", h, "correct horse battery staple", true},
		{"wrong password", h, "correct horse battery stapler", false},
		{"empty password", h, "", false},
		{"malformed hash", "$argon2id$nonsense", "x", false},
		{"bcrypt hash", "$2a$10$abcdefghijklmnopqrstuv", "x", false},
		{"empty hash", "", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := CheckPassword(tc.hash, tc.pw); got != tc.want {
				t.Errorf("CheckPassword = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestParseRefresh(t *testing.T) {
	for _, tc := range []struct {
		tok string
		ok  bool
	}{
		{"wr_se01JD3F4M5X8Q9R2T6V7W8Y9Z0A.3.secret", true},
		{"wr_se01JD3F4M5X8Q9R2T6V7W8Y9Z0A.-1.secret", false},
		{"wr_se01JD3F4M5X8Q9R2T6V7W8Y9Z0A.3.", false},
		{"wr_bad.3.secret", false},
		{"se01JD3F4M5X8Q9R2T6V7W8Y9Z0A.3.secret", false},
		{"wr_se01JD3F4M5X8Q9R2T6V7W8Y9Z0A.3.a.b", false},
	} {
		if _, _, _, ok := parseRefresh(tc.tok); ok != tc.ok {
			t.Errorf("parseRefresh(%q) ok = %v, want %v", tc.tok, ok, tc.ok)
		}
	}
}
