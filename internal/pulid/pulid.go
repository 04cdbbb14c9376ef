// Package pulid owns Whisper's identifiers: a two-letter type prefix followed
// by a ULID, so every id is globally unique, opaque to clients, unguessable,
// and names the entity it belongs to (which is how node(id:) finds its table).
package pulid

import (
	"crypto/rand"
	"database/sql/driver"
	"encoding/binary"
	"fmt"
	"io"
	"strconv"
	"time"
)

// ID is a prefixed ULID such as "us01JD3F4M5X8Q9R2T6V7W8Y9Z0A".
type ID string

// crockford is the ULID alphabet (no I, L, O, U).
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// Len is the length of every ID: two prefix letters and 26 ULID characters.
const Len = 2 + 26

// New returns a fresh ID with the given two-letter prefix.
func New(prefix string) ID {
	if len(prefix) != 2 {
		panic("pulid: prefix must be two characters: " + prefix)
	}
	var b [16]byte
	ms := uint64(time.Now().UnixMilli())
	b[0] = byte(ms >> 40)
	b[1] = byte(ms >> 32)
	binary.BigEndian.PutUint32(b[2:6], uint32(ms))
	if _, err := rand.Read(b[6:]); err != nil {
		panic("pulid: reading randomness: " + err.Error())
	}
	return ID(prefix + encode(b))
}

// encode writes 128 bits as 26 Crockford base32 characters.
func encode(b [16]byte) string {
	hi := binary.BigEndian.Uint64(b[:8])
	lo := binary.BigEndian.Uint64(b[8:])
	out := make([]byte, 26)
	for i := 25; i >= 0; i-- {
		out[i] = crockford[lo&31]
		lo = lo>>5 | hi<<59
		hi >>= 5
	}
	return string(out)
}

// Prefix returns the two-letter type prefix, or "" for a malformed id.
func (id ID) Prefix() string {
	if !id.Valid() {
		return ""
	}
	return string(id[:2])
}

// Valid reports whether id has the shape of an ID (prefix and ULID body).
func (id ID) Valid() bool {
	if len(id) != Len {
		return false
	}
	for i := 0; i < 2; i++ {
		if c := id[i]; c < 'a' || c > 'z' {
			return false
		}
	}
	for i := 2; i < Len; i++ {
		c := id[i]
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

// String returns the id as text.
func (id ID) String() string { return string(id) }

// UnmarshalGQL implements graphql.Unmarshaler. Any string is accepted here so
// that an unknown or malformed id yields NOT_FOUND from the lookup rather than
// a parse error that would tell an attacker which ids are well formed.
func (id *ID) UnmarshalGQL(v any) error {
	switch s := v.(type) {
	case string:
		*id = ID(s)
	case ID:
		*id = s
	default:
		return fmt.Errorf("an ID must be a string")
	}
	return nil
}

// MarshalGQL implements graphql.Marshaler.
func (id ID) MarshalGQL(w io.Writer) {
	_, _ = io.WriteString(w, strconv.Quote(string(id)))
}

// Scan implements sql.Scanner.
func (id *ID) Scan(src any) error {
	switch s := src.(type) {
	case string:
		*id = ID(s)
	case []byte:
		*id = ID(s)
	case nil:
		*id = ""
	default:
		return fmt.Errorf("pulid: cannot scan %T", src)
	}
	return nil
}

// Value implements driver.Valuer.
func (id ID) Value() (driver.Value, error) { return string(id), nil }

// Dedupe returns ids without repeats, in first-seen order.
func Dedupe(ids []ID) []ID {
	seen := make(map[ID]bool, len(ids))
	var out []ID
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}
