package graph

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/99designs/gqlgen/graphql"
)

// TestNextMessageIsWhatJSONMarshalWrites: a data-only subscription event is
// written as the exact bytes json.Marshal writes for its "next" message,
// and an event json.Marshal would change (HTML characters, U+2028/2029) or
// that is more than data is left to json.Marshal.
func TestNextMessageIsWhatJSONMarshalWrites(t *testing.T) {
	for _, tc := range []struct {
		data string
		fast bool
	}{
		{`{"messageAdded":{"id":"ms1","body":"All normal."}}`, true},
		{`{"messageAdded":{"body":"Grüße, café — 5 mg/ml"}}`, true},
		{`{"messageAdded":{"body":"a \"quoted\" word\nand a new line"}}`, true},
		{`{"messageAdded":{"body":"Hb < 120"}}`, false},
		{`{"messageAdded":{"body":"Tom & Jerry"}}`, false},
		{`{"messageAdded":{"body":"line\u2028separator, escaped already"}}`, true},
		{"{\"messageAdded\":{\"body\":\"line\xe2\x80\xa8separator\"}}", false},
		{"{\"messageAdded\":{\"body\":\"line\xe2\x80\xa9separator\"}}", false},
	} {
		r := &graphql.Response{Data: json.RawMessage(tc.data)}
		got, ok := nextMessage("op-1", r)
		if ok != tc.fast {
			t.Errorf("%s: written without json.Marshal %v, want %v", tc.data, ok, tc.fast)
		}
		payload, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		want, err := json.Marshal(&wsFrame{Payload: payload, ID: "op-1", Type: "next"})
		if err != nil {
			t.Fatal(err)
		}
		if ok && !bytes.Equal(got, want) {
			t.Errorf("%s: wrote %s, json.Marshal %s", tc.data, got, want)
		}
	}
	if _, ok := nextMessage("op-1", &graphql.Response{Data: json.RawMessage(`{"a":1}`), Extensions: map[string]any{"x": 1}}); ok {
		t.Error("an event with extensions was written without json.Marshal")
	}
	if _, ok := nextMessage(`a"b`, &graphql.Response{Data: json.RawMessage(`{"a":1}`)}); ok {
		t.Error("an id json.Marshal escapes was written without it")
	}
}
