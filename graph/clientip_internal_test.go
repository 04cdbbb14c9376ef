package graph

import (
	"net/http"
	"net/netip"
	"testing"
)

func TestClientIPTakesTheRightMostUntrustedHop(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::/32")}
	for _, tc := range []struct {
		name, peer string
		xff        []string
		want       string
	}{
		{"untrusted peer", "192.0.2.1:5000", []string{"203.0.113.1"}, "192.0.2.1"},
		{"trusted peer without header", "10.0.0.1:5000", nil, "10.0.0.1"},
		{"one hop", "10.0.0.1:5000", []string{"203.0.113.1"}, "203.0.113.1"},
		{"forged left-most entries", "10.0.0.1:5000", []string{"1.1.1.1, 2.2.2.2, 203.0.113.1"}, "203.0.113.1"},
		{"through two proxies", "10.0.0.1:5000", []string{"1.1.1.1, 203.0.113.1, 10.9.9.9"}, "203.0.113.1"},
		{"across headers", "10.0.0.1:5000", []string{"1.1.1.1", "203.0.113.1, 10.9.9.9"}, "203.0.113.1"},
		{"every hop trusted", "10.0.0.1:5000", []string{"10.1.1.1, 10.2.2.2"}, "10.1.1.1"},
		{"garbage stops at its proxy", "10.0.0.1:5000", []string{"203.0.113.1, unknown, 10.2.2.2"}, "10.2.2.2"},
		{"ports and IPv6", "[2001:db8::1]:5000", []string{"[2001:db8:ffff::9]:1, 198.51.100.4:4711"}, "198.51.100.4"},
		{"IPv4-mapped peer", "[::ffff:10.0.0.1]:5000", []string{"203.0.113.1"}, "203.0.113.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &http.Request{RemoteAddr: tc.peer, Header: http.Header{}}
			for _, v := range tc.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := clientIP(r, trusted); got != tc.want {
				t.Errorf("clientIP = %s, want %s", got, tc.want)
			}
			if got := clientIP(r, nil); got != netip.MustParseAddrPort(tc.peer).Addr().String() {
				t.Errorf("with no trusted proxies clientIP = %s, want the peer", got)
			}
		})
	}
}
