package apperr

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// PanicAttrs describes a recovered panic for a log line without its value,
// which may carry patient data (a message body, a name in an error): the
// value's type, the runtime's own message when the runtime panicked (an
// index out of range, a nil dereference: no user data), and the stack.
func PanicAttrs(r any) []any {
	attrs := []any{"type", fmt.Sprintf("%T", r)}
	if re, ok := r.(runtime.Error); ok {
		attrs = append(attrs, "runtime_error", re.Error())
	}
	return append(attrs, "stack", string(debug.Stack()))
}
